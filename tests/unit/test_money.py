"""Money: ISO 4217 minor units, the one rounding place, strict decimal parsing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billhook.domain.money import (
    ZERO,
    MoneyError,
    fmt,
    is_currency,
    minor_units,
    money_str,
    parse_decimal,
    places,
    quantum,
    round_money,
)

D = Decimal


@pytest.mark.parametrize(
    ("currency", "units"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_minor_units_come_from_iso_4217(currency: str, units: int) -> None:
    assert minor_units(currency) == units
    assert is_currency(currency)
    assert quantum(currency) == D(1).scaleb(-units)


@pytest.mark.parametrize("code", ["ABC", "EURO", "eur", "", " EUR", "EU"])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(MoneyError, match="unknown ISO 4217"):
        minor_units(code)
    assert not is_currency(code)


@pytest.mark.parametrize("code", ["XAU", "XAG", "XDR", "XXX", "XTS"])
def test_funds_metals_and_test_codes_are_not_billable(code: str) -> None:
    with pytest.raises(MoneyError, match="not a currency that can be invoiced"):
        minor_units(code)
    assert not is_currency(code)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("11.875", "EUR", "11.88"),  # half-even: 7 is odd, up to 8
        ("11.865", "EUR", "11.86"),  # 6 is even, stays
        ("0.125", "EUR", "0.12"),
        ("0.135", "EUR", "0.14"),
        ("-0.125", "EUR", "-0.12"),
        ("-11.875", "EUR", "-11.88"),
        ("2.5", "JPY", "2"),
        ("3.5", "JPY", "4"),
        ("1000", "JPY", "1000"),
        ("1.0005", "KWD", "1.000"),
        ("1.0015", "KWD", "1.002"),
        ("10", "EUR", "10.00"),
        ("0", "KWD", "0.000"),
        ("1E+2", "EUR", "100.00"),
    ],
)
def test_round_money_is_half_even_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = round_money(D(amount), currency)
    assert fmt(rounded) == expected
    assert money_str(D(amount), currency) == expected


@given(
    amount=st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False, allow_infinity=False),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_round_money_has_exactly_the_currency_places_and_is_idempotent(amount: Decimal, currency: str) -> None:
    rounded = round_money(amount, currency)
    assert rounded.as_tuple().exponent == -minor_units(currency)
    assert round_money(rounded, currency) == rounded
    assert abs(rounded - amount) <= quantum(currency) / 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", D("12.5")),
        ("0", ZERO),
        ("-0", ZERO),
        ("0.00", ZERO),
        (" 5 ", D("5")),
        (7, D("7")),
        (D("1.25"), D("1.25")),
        ("100", D("100")),
    ],
)
def test_parse_decimal_accepts_decimal_strings_ints_and_decimals(raw: object, expected: Decimal) -> None:
    value = parse_decimal(raw, max_places=2)
    assert value == expected
    assert isinstance(value, Decimal)


def test_parse_decimal_result_formats_without_exponent() -> None:
    assert fmt(parse_decimal("100", max_places=2)) == "100"
    assert fmt(parse_decimal("12.50", max_places=2)) == "12.5"


@pytest.mark.parametrize("raw", [1.5, 0.1, 2.0, float("nan"), float("inf")])
def test_parse_decimal_refuses_floats(raw: float) -> None:
    with pytest.raises(MoneyError, match="float"):
        parse_decimal(raw, max_places=8)


@pytest.mark.parametrize("raw", [True, False, None, [], {}, b"1"])
def test_parse_decimal_refuses_non_numbers(raw: object) -> None:
    with pytest.raises(MoneyError):
        parse_decimal(raw, max_places=8)


@pytest.mark.parametrize("raw", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", D("NaN"), D("Infinity")])
def test_parse_decimal_refuses_nan_and_infinity(raw: object) -> None:
    with pytest.raises(MoneyError, match=r"finite|not a decimal number"):
        parse_decimal(raw, max_places=8, allow_negative=True)


@pytest.mark.parametrize(
    "raw", ["", "abc", "1,5", "1.2.3", "0x10", "--1", "12 EUR", "1_000", "١٢", "1e3", "+1", ".5", "5."]
)
def test_parse_decimal_refuses_garbage(raw: str) -> None:
    with pytest.raises(MoneyError, match="not a decimal number"):
        parse_decimal(raw, max_places=8)


@pytest.mark.parametrize(("raw", "max_places"), [("1.123", 2), ("0.1", 0), ("1.00001", 4), (D("1e-3"), 2)])
def test_parse_decimal_refuses_too_many_places(raw: str, max_places: int) -> None:
    with pytest.raises(MoneyError, match=f"at most {max_places} decimal places"):
        parse_decimal(raw, max_places=max_places)


def test_parse_decimal_counts_places_as_written() -> None:
    # "1.10" has two places as written even though it equals 1.1
    with pytest.raises(MoneyError):
        parse_decimal("1.10", max_places=1)
    assert parse_decimal("1.1", max_places=1) == D("1.1")


def test_parse_decimal_refuses_negatives_unless_allowed() -> None:
    with pytest.raises(MoneyError, match="negative"):
        parse_decimal("-1.50", max_places=2)
    with pytest.raises(MoneyError, match="negative"):
        parse_decimal(-3, max_places=2)
    assert parse_decimal("-1.50", max_places=2, allow_negative=True) == D("-1.5")


@pytest.mark.parametrize("raw", ["1000000000000000000", "-1000000000000000000", D("1e18"), D("1e999999")])
def test_parse_decimal_refuses_huge_values(raw: object) -> None:
    with pytest.raises(MoneyError, match="too large"):
        parse_decimal(raw, max_places=2, allow_negative=True)


@given(st.decimals(min_value=-(10**15), max_value=10**15, places=4, allow_nan=False, allow_infinity=False))
def test_parse_decimal_round_trips_its_wire_string(value: Decimal) -> None:
    parsed = parse_decimal(fmt(value), max_places=4, allow_negative=True)
    assert parsed == value
    assert places(parsed) <= 4
    assert parse_decimal(fmt(parsed), max_places=4, allow_negative=True) == parsed


def test_places() -> None:
    assert places(D("1.25")) == 2
    assert places(D("100")) == 0
    assert places(D("1E+2")) == 0
    with pytest.raises(MoneyError):
        places(D("NaN"))


def test_round_money_handles_the_largest_products_billhook_accepts() -> None:
    # a price and a quantity just under the 1e18 cap each: the product has 36 integer digits
    big = parse_decimal("999999999999999999", max_places=8) * parse_decimal("999999999999999999", max_places=4)
    assert fmt(round_money(big, "KWD")).endswith(".000")
    assert round_money(D("123456789012345678901234567890.125"), "EUR") == D("123456789012345678901234567890.12")
