"""Price models: worked amounts, clamps, errors naming the field, and properties."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billhook.domain.pricing import Price, PriceError, Tier, parse_price

D = Decimal


def unit(amount: str) -> dict[str, str]:
    return {"amount": amount}


GRADUATED: dict[str, Any] = {
    "type": "tiered",
    "mode": "graduated",
    "tiers": [
        {"upToAmount": "10", "unitPrice": unit("1"), "flatPrice": unit("5")},
        {"upToAmount": "20", "unitPrice": unit("0.5"), "flatPrice": unit("2")},
        {"unitPrice": unit("0.1")},
    ],
}

VOLUME: dict[str, Any] = {
    "type": "tiered",
    "mode": "volume",
    "tiers": [
        {"upToAmount": "10", "unitPrice": unit("10")},
        {"upToAmount": "50", "unitPrice": unit("7.50")},
        {"unitPrice": unit("5"), "flatPrice": unit("20")},
    ],
}


# --- worked amounts -------------------------------------------------------------------------------


def test_flat_price() -> None:
    price = parse_price({"type": "flat", "amount": "49.00"})
    assert price.payment_term == "in_advance"  # the default
    assert price.amount_for(D(1)) == D("49")
    assert price.amount_for(D(7)) == D("49")
    assert price.amount_for(D(0)) == 0
    assert parse_price({"type": "flat", "amount": "5", "paymentTerm": "in_arrears"}).payment_term == "in_arrears"


def test_unit_price() -> None:
    price = parse_price({"type": "unit", "amount": "0.0025"})
    assert price.amount_for(D(1000)) == D("2.5")
    assert price.amount_for(D("1.5")) == D("0.00375")  # exact: the caller rounds once per line
    assert price.amount_for(D(0)) == 0


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),
        ("1", "6"),  # 1 × 1 + 5
        ("10", "15"),  # 10 × 1 + 5; the second tier's fee only once usage enters it
        ("10.5", "17.25"),  # 15 + 0.5 × 0.5 + 2
        ("15", "19.5"),  # 15 + 5 × 0.5 + 2
        ("20", "22"),  # 15 + 10 × 0.5 + 2
        ("25", "22.5"),  # 22 + 5 × 0.1
        ("120", "32"),  # 22 + 100 × 0.1
    ],
)
def test_graduated_tiers(quantity: str, expected: str) -> None:
    assert parse_price(GRADUATED).amount_for(D(quantity)) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),
        ("1", "10"),
        ("10", "100"),
        ("12", "90"),  # 12 seats, all at 7.50
        ("50", "375"),
        ("51", "275"),  # 51 × 5 + 20
    ],
)
def test_volume_tiers(quantity: str, expected: str) -> None:
    assert parse_price(VOLUME).amount_for(D(quantity)) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("0", "0"), ("1", "25"), ("10", "25"), ("10.0001", "50"), ("20", "50"), ("21", "75"), ("30", "75")],
)
def test_package_price(quantity: str, expected: str) -> None:
    price = parse_price({"type": "package", "amount": "25", "quantityPerPackage": "10"})
    assert price.amount_for(D(quantity)) == D(expected)


def test_minimum_and_maximum_clamp() -> None:
    price = parse_price({"type": "unit", "amount": "0.10", "minimumAmount": "5", "maximumAmount": "20"})
    assert price.amount_for(D(10)) == D("5")  # 1.00 raised to the minimum
    assert price.amount_for(D(100)) == D("10")
    assert price.amount_for(D(1000)) == D("20")  # 100.00 capped
    assert price.amount_for(D(0)) == D("5")  # a minimum applies even without usage


def test_tiered_and_package_clamps() -> None:
    graduated = parse_price({**GRADUATED, "maximumAmount": "20"})
    assert graduated.amount_for(D(25)) == D("20")
    assert graduated.amount_for(D(1)) == D("6")
    package = parse_price({"type": "package", "amount": "25", "quantityPerPackage": "10", "minimumAmount": "60"})
    assert package.amount_for(D(21)) == D("75")
    assert package.amount_for(D(1)) == D("60")


def test_negative_quantity_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_price({"type": "unit", "amount": "1"}).amount_for(D(-1))


def test_allowed_types() -> None:
    assert parse_price({"type": "flat", "amount": "1"}, allowed=("flat",)).type == "flat"
    with pytest.raises(PriceError) as err:
        parse_price({"type": "unit", "amount": "1"}, "charges[0].price", allowed=("flat",))
    assert err.value.field == "charges[0].price.type"


def test_to_wire_worked() -> None:
    assert parse_price({"type": "unit", "amount": "0.10", "maximumAmount": "20.00"}).to_wire() == {
        "type": "unit",
        "amount": "0.1",
        "maximumAmount": "20",
    }
    assert parse_price(GRADUATED).to_wire()["tiers"][0] == {
        "upToAmount": "10",
        "flatPrice": {"type": "flat", "amount": "5"},
        "unitPrice": {"type": "unit", "amount": "1"},
    }


# --- errors name the field ------------------------------------------------------------------------


def tiers(*rows: Any, mode: str = "graduated") -> dict[str, Any]:
    return {"type": "tiered", "mode": mode, "tiers": list(rows)}


def upto(bound: Any) -> dict[str, Any]:
    return {"upToAmount": bound, "unitPrice": unit("1")}


OPEN: dict[str, Any] = {"unitPrice": unit("1")}
TOO_MANY = tiers(*[upto(str(i)) for i in range(1, 101)], OPEN)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("not an object", "price"),
        ({}, "price.type"),
        ({"type": "percent"}, "price.type"),
        ({"type": "flat"}, "price.amount"),
        ({"type": "flat", "amount": None}, "price.amount"),
        ({"type": "flat", "amount": 49.0}, "price.amount"),
        ({"type": "flat", "amount": "-1"}, "price.amount"),
        ({"type": "flat", "amount": "abc"}, "price.amount"),
        ({"type": "flat", "amount": "NaN"}, "price.amount"),
        ({"type": "unit", "amount": "0.000000001"}, "price.amount"),  # 9 places, 8 allowed
        ({"type": "flat", "amount": "1", "paymentTerm": "monthly"}, "price.paymentTerm"),
        ({"type": "unit", "amount": "1", "minimumAmount": "x"}, "price.minimumAmount"),
        ({"type": "unit", "amount": "1", "maximumAmount": "-5"}, "price.maximumAmount"),
        ({"type": "unit", "amount": "1", "minimumAmount": "10", "maximumAmount": "5"}, "price.minimumAmount"),
        ({"type": "package", "amount": "1"}, "price.quantityPerPackage"),
        ({"type": "package", "amount": "1", "quantityPerPackage": "0"}, "price.quantityPerPackage"),
        ({"type": "package", "amount": "1", "quantityPerPackage": "0.00001"}, "price.quantityPerPackage"),
        ({"type": "package", "quantityPerPackage": "10"}, "price.amount"),
        ({"type": "tiered", "tiers": [OPEN]}, "price.mode"),
        ({"type": "tiered", "mode": "stairstep", "tiers": [OPEN]}, "price.mode"),
        ({"type": "tiered", "mode": "volume"}, "price.tiers"),
        ({"type": "tiered", "mode": "volume", "tiers": []}, "price.tiers"),
        ({"type": "tiered", "mode": "volume", "tiers": {"0": OPEN}}, "price.tiers"),
        (TOO_MANY, "price.tiers"),
        (tiers("x"), "price.tiers[0]"),
        (tiers({}), "price.tiers[0]"),
        (tiers(upto("10"), upto("5"), OPEN), "price.tiers[1].upToAmount"),
        (tiers(upto("10"), upto("10"), OPEN), "price.tiers[1].upToAmount"),
        (tiers(upto("0"), OPEN), "price.tiers[0].upToAmount"),
        (tiers(upto("-1"), OPEN), "price.tiers[0].upToAmount"),
        (tiers(OPEN, OPEN), "price.tiers[0].upToAmount"),  # only the last tier may be open-ended
        (tiers(upto("10")), "price.tiers[0].upToAmount"),  # the last tier must be open-ended
        (tiers(upto("10"), upto("20")), "price.tiers[1].upToAmount"),
        (tiers(upto("1.00001"), OPEN), "price.tiers[0].upToAmount"),  # quantities: 4 places
        (tiers(upto(10.5), OPEN), "price.tiers[0].upToAmount"),
        (tiers(upto("10"), {"unitPrice": "0.1"}), "price.tiers[1].unitPrice"),
        (tiers(upto("10"), {"unitPrice": {}}), "price.tiers[1].unitPrice.amount"),
        (tiers(upto("10"), {"flatPrice": unit("-2")}), "price.tiers[1].flatPrice.amount"),
    ],
)
def test_parse_price_errors_name_the_field(raw: Any, field: str) -> None:
    with pytest.raises(PriceError) as err:
        parse_price(raw)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert isinstance(err.value, ValueError)


def test_error_path_is_prefixed_with_the_callers_path() -> None:
    bad = tiers(upto("10"), upto("5"), OPEN)
    with pytest.raises(PriceError) as err:
        parse_price(bad, "items[2].price")
    assert err.value.field == "items[2].price.tiers[1].upToAmount"


# --- properties -----------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
quantities = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def graduated_prices(draw: st.DrawFn, mode: str = "graduated") -> Price:
    bounds = sorted(draw(st.sets(st.decimals(min_value=D("0.0001"), max_value=1000, places=4), max_size=5)))
    rows: list[dict[str, Any]] = []
    for up_to in [*bounds, None]:
        row: dict[str, Any] = {} if up_to is None else {"upToAmount": str(up_to)}
        flat, per_unit = draw(st.one_of(st.none(), amounts)), draw(st.one_of(st.none(), amounts))
        if flat is None and per_unit is None:
            per_unit = D(0)
        if flat is not None:
            row["flatPrice"] = {"amount": str(flat)}
        if per_unit is not None:
            row["unitPrice"] = {"amount": str(per_unit)}
        rows.append(row)
    return parse_price({"type": "tiered", "mode": mode, "tiers": rows})


def graduated_by_slices(tier_rows: tuple[Tier, ...], quantity: Decimal) -> Decimal:
    """Independent reference: each tier bills the slice of the quantity inside (lower, upper]."""
    total = D(0)
    lower = D(0)
    for tier in tier_rows:
        upper = tier.up_to if tier.up_to is not None else max(quantity, lower)
        slice_ = max(D(0), min(quantity, upper) - lower)
        if slice_ > 0:
            total += slice_ * (tier.unit or 0) + (tier.flat or 0)
        lower = upper
    return total


@given(price=graduated_prices(), q1=quantities, q2=quantities)
def test_graduated_is_monotonic_in_quantity(price: Price, q1: Decimal, q2: Decimal) -> None:
    low, high = sorted((q1, q2))
    assert price.amount_for(low) <= price.amount_for(high)


@given(price=graduated_prices(), quantity=quantities)
def test_graduated_is_the_sum_of_per_tier_slices(price: Price, quantity: Decimal) -> None:
    assert price.amount_for(quantity) == graduated_by_slices(price.tiers, quantity)


@given(price=graduated_prices(), quantity=quantities)
def test_graduated_first_tier_alone_matches_a_volume_price(price: Price, quantity: Decimal) -> None:
    first = price.tiers[0]
    if first.up_to is None or quantity == 0 or quantity > first.up_to:
        return
    expected = quantity * (first.unit or 0) + (first.flat or 0)
    assert price.amount_for(quantity) == expected
    assert Price("tiered", mode="volume", tiers=price.tiers).amount_for(quantity) == expected


@given(price=graduated_prices(mode="volume"), quantity=quantities)
def test_volume_bills_every_unit_at_the_reached_tier(price: Price, quantity: Decimal) -> None:
    if quantity == 0:
        assert price.amount_for(quantity) == 0
        return
    tier = next(t for t in price.tiers if t.up_to is None or quantity <= t.up_to)
    assert price.amount_for(quantity) == quantity * (tier.unit or 0) + (tier.flat or 0)


@st.composite
def any_prices(draw: st.DrawFn) -> Price:
    kind = draw(st.sampled_from(["flat", "unit", "package", "graduated", "volume"]))
    if kind in ("graduated", "volume"):
        raw = draw(graduated_prices(mode=kind)).to_wire()
    elif kind == "package":
        per = draw(st.decimals(min_value=D("0.0001"), max_value=1000, places=4))
        raw = {"type": "package", "amount": str(draw(amounts)), "quantityPerPackage": str(per)}
    else:
        raw = {"type": kind, "amount": str(draw(amounts))}
    if kind != "flat":
        low, high = draw(st.one_of(st.none(), amounts)), draw(st.one_of(st.none(), amounts))
        if low is not None and high is not None and low > high:
            low, high = high, low
        if low is not None:
            raw["minimumAmount"] = str(low)
        if high is not None:
            raw["maximumAmount"] = str(high)
    return parse_price(raw)


@given(price=any_prices(), quantity=quantities)
def test_amount_is_never_negative_and_respects_the_clamps(price: Price, quantity: Decimal) -> None:
    amount = price.amount_for(quantity)
    assert amount >= 0
    if price.minimum is not None:
        assert amount >= price.minimum
    if price.maximum is not None:
        assert amount <= price.maximum


@given(
    amount=amounts,
    per=st.decimals(min_value=D("0.0001"), max_value=1000, places=4),
    quantity=quantities,
)
def test_package_amount_is_whole_packages(amount: Decimal, per: Decimal, quantity: Decimal) -> None:
    price = parse_price({"type": "package", "amount": str(amount), "quantityPerPackage": str(per)})
    # exact ceiling in integers of 1/10000
    q, size = int(quantity.scaleb(4)), int(per.scaleb(4))
    packages = -(-q // size)
    assert price.amount_for(quantity) == packages * price.amount


@given(price=any_prices())
def test_to_wire_round_trips(price: Price) -> None:
    assert parse_price(price.to_wire()) == price
