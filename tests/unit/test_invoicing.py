"""From a period to invoice lines and totals: proration, advance/arrears, usage, credits, totals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billhook.domain.catalog import CustomCharge, PlanRules, RecurringCharge, TrackedItem
from billhook.domain.invoicing import (
    Totals,
    advance_lines,
    arrears_lines,
    custom_line,
    proration,
    totals,
    usage_line,
    validate,
)
from billhook.domain.money import WIDE, fmt, minor_units
from billhook.domain.periods import Duration, Period
from billhook.domain.pricing import parse_price

D = Decimal


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


MARCH = Period(utc(2026, 3, 1), utc(2026, 4, 1))  # 31 days


def charge(key: str, amount: str, term: str) -> RecurringCharge:
    return RecurringCharge(key, key.title(), parse_price({"type": "flat", "amount": amount, "paymentTerm": term}))


def item(key: str, price: dict, included: str = "0") -> TrackedItem:
    return TrackedItem(key, key.title(), D(included), "metered", parse_price(price))


def rules(currency: str = "EUR", charges: tuple = (), items: tuple = ()) -> PlanRules:
    return PlanRules(currency, Duration.parse("P1M"), None, charges, items)


TEAM = rules(
    charges=(charge("base", "49.00", "in_advance"), charge("support", "10.00", "in_arrears")),
    items=(
        item("seats", {"type": "unit", "amount": "7.50"}, included="3"),
        item("api_calls", {"type": "package", "amount": "2", "quantityPerPackage": "1000"}),
        item("storage", {"type": "unit", "amount": "0.10", "minimumAmount": "1"}),
    ),
)


# --- proration -----------------------------------------------------------------------------------


def test_proration_of_a_whole_period_is_one() -> None:
    assert proration(MARCH, MARCH) == 1


def test_proration_is_the_share_of_seconds() -> None:
    with localcontext(WIDE):
        assert proration(Period(utc(2026, 3, 15), utc(2026, 4, 1)), MARCH) == D(17) / D(31)
        assert proration(Period(utc(2026, 3, 1), utc(2026, 3, 1, 12)), MARCH) == D(1) / D(62)


# --- advance ---------------------------------------------------------------------------------------


def test_advance_lines_bill_in_advance_charges_at_period_start() -> None:
    lines = advance_lines(TEAM, MARCH, MARCH)
    assert [(line.kind, line.key, line.amount) for line in lines] == [("advance", "base", D("49.00"))]
    line = lines[0]
    assert line.invoice_at == MARCH.start
    assert line.period == MARCH
    assert line.quantity == 1
    assert line.type == "flat_fee"
    assert fmt(line.amount) == "49.00"


def test_advance_lines_are_prorated_and_rounded_half_even() -> None:
    partial = Period(utc(2026, 3, 15), utc(2026, 4, 1))
    (line,) = advance_lines(rules(charges=(charge("base", "31.00", "in_advance"),)), partial, MARCH)
    assert fmt(line.amount) == "17.00"
    (line,) = advance_lines(TEAM, partial, MARCH)
    assert fmt(line.amount) == "26.87"  # 49 × 17/31 = 26.870967…
    (line,) = advance_lines(rules("JPY", charges=(charge("base", "4900", "in_advance"),)), partial, MARCH)
    assert fmt(line.amount) == "2687"
    (line,) = advance_lines(rules("KWD", charges=(charge("base", "49", "in_advance"),)), partial, MARCH)
    assert fmt(line.amount) == "26.871"


# --- usage ---------------------------------------------------------------------------------------


def test_usage_line_bills_above_the_included_quantity() -> None:
    line = usage_line(TEAM.items[0], D(5), MARCH, "EUR")
    assert line is not None
    assert line.kind == "usage"
    assert line.type == "usage_based"
    assert line.quantity == 5  # the quantity used; the price applies to 5 - 3
    assert line.included == 3
    assert fmt(line.amount) == "15.00"
    assert line.invoice_at == MARCH.end


def test_usage_within_the_included_quantity_is_free() -> None:
    line = usage_line(TEAM.items[0], D(2), MARCH, "EUR")
    assert line is not None
    assert fmt(line.amount) == "0.00"


def test_zero_usage_makes_no_line_unless_there_is_a_minimum() -> None:
    assert usage_line(TEAM.items[0], D(0), MARCH, "EUR") is None
    assert usage_line(TEAM.items[1], D(0), MARCH, "EUR") is None
    minimum = usage_line(TEAM.items[2], D(0), MARCH, "EUR")
    assert minimum is not None
    assert fmt(minimum.amount) == "1.00"


def test_usage_line_rounds_once() -> None:
    tiny = item("calls", {"type": "unit", "amount": "0.0025"})
    line = usage_line(tiny, D(1), MARCH, "EUR")
    assert line is not None
    assert fmt(line.amount) == "0.00"  # 0.0025 → 0.00 (half-even)
    line = usage_line(tiny, D(3), MARCH, "EUR")
    assert line is not None
    assert fmt(line.amount) == "0.01"  # 0.0075 → 0.01


# --- arrears -------------------------------------------------------------------------------------


def test_arrears_lines_for_a_period() -> None:
    quantities = {"seats": D(12), "api_calls": D(2500)}
    lines = arrears_lines(TEAM, MARCH, MARCH, quantities, [])
    got = [(line.kind, line.key, fmt(line.amount)) for line in lines]
    assert got == [
        ("arrears", "support", "10.00"),
        ("usage", "seats", "67.50"),  # (12 - 3) × 7.50
        ("usage", "api_calls", "6.00"),  # 3 packages of 1000
        ("usage", "storage", "1.00"),  # no usage, but a minimum
    ]
    assert all(line.invoice_at == MARCH.end for line in lines)


def test_arrears_recurring_charges_are_prorated() -> None:
    partial = Period(utc(2026, 3, 1), utc(2026, 3, 11))
    lines = arrears_lines(TEAM, partial, MARCH, {}, [])
    assert (lines[0].key, fmt(lines[0].amount)) == ("support", "3.23")  # 10 × 10/31 = 3.2258…


def test_custom_charges_and_credits() -> None:
    custom = [
        CustomCharge("c1", "SETUP", 2, D("12.50"), "Setup fee"),
        CustomCharge("c2", "GOODWILL", 1, D("-5.00"), None),
    ]
    lines = arrears_lines(rules(), MARCH, MARCH, {}, custom)
    assert [(x.kind, x.key, x.name, x.quantity, fmt(x.amount), x.custom_charge_id) for x in lines] == [
        ("custom", "SETUP", "Setup fee", 2, "25.00", "c1"),
        ("custom", "GOODWILL", "GOODWILL", 1, "-5.00", "c2"),
    ]
    assert all(x.type == "flat_fee" and x.invoice_at == MARCH.end for x in lines)


def test_custom_line_rounds_the_product_once() -> None:
    line = custom_line(CustomCharge("c", "X", 3, D("0.335"), None), MARCH, "EUR")
    assert fmt(line.amount) == "1.00"  # 1.005 → 1.00 (half-even), not 3 × 0.34


def test_a_trial_bills_no_usage_and_no_recurring_fees() -> None:
    quantities = {"seats": D(12), "api_calls": D(2500)}
    assert arrears_lines(TEAM, MARCH, MARCH, quantities, [], trial=True) == []
    custom = [CustomCharge("c1", "SETUP", 1, D("99"), None)]
    lines = arrears_lines(TEAM, MARCH, MARCH, quantities, custom, trial=True)
    assert [(x.kind, fmt(x.amount)) for x in lines] == [("custom", "99.00")]


# --- totals --------------------------------------------------------------------------------------


def test_totals_worked() -> None:
    t = totals([D("49.00"), D("67.50"), D("-5.00"), D("0.00")], "EUR")
    assert t == Totals(
        amount=D("116.50"),
        charges_total=D("0.00"),
        discounts_total=D("0.00"),
        credits_total=D("5.00"),
        taxes_inclusive_total=D("0.00"),
        taxes_exclusive_total=D("0.00"),
        taxes_total=D("0.00"),
        total=D("111.50"),
    )
    assert fmt(t.credits_total) == "5.00"
    assert fmt(t.total) == "111.50"


def test_totals_of_nothing() -> None:
    t = totals([], "JPY")
    assert fmt(t.total) == "0"
    assert fmt(t.amount) == "0"
    assert fmt(totals([], "KWD").total) == "0.000"


def test_credits_beyond_charges_make_a_negative_total() -> None:
    t = totals([D("10.00"), D("-25.00")], "EUR")
    assert fmt(t.credits_total) == "25.00"
    assert fmt(t.total) == "-15.00"


currencies = st.sampled_from(["EUR", "JPY", "KWD"])


@st.composite
def rounded_amounts(draw: st.DrawFn) -> tuple[str, list[Decimal]]:
    currency = draw(currencies)
    units = minor_units(currency)
    cents = draw(st.lists(st.integers(-(10**9), 10**9), max_size=30))
    return currency, [D(c).scaleb(-units) for c in cents]


@given(rounded_amounts())
def test_total_is_the_sum_of_line_amounts(case: tuple[str, list[Decimal]]) -> None:
    currency, amounts = case
    t = totals(amounts, currency)
    assert t.total == sum(amounts, D(0))
    assert t.amount == sum((a for a in amounts if a > 0), D(0))
    assert t.credits_total == -sum((a for a in amounts if a < 0), D(0))
    assert t.credits_total >= 0
    assert t.total == t.amount - t.credits_total
    for value in vars(t).values():
        assert value.as_tuple().exponent == -minor_units(currency), value


@given(
    currency=currencies,
    seats=st.decimals(min_value=0, max_value=10_000, places=4),
    calls=st.decimals(min_value=0, max_value=10**6, places=4),
    each=st.decimals(min_value=-1000, max_value=1000, places=3),
    start_day=st.integers(1, 31),
)
def test_every_line_and_total_has_exactly_the_currency_places(
    currency: str, seats: Decimal, calls: Decimal, each: Decimal, start_day: int
) -> None:
    plan = rules(currency, TEAM.charges, TEAM.items)
    period = Period(utc(2026, 3, start_day), MARCH.end)
    custom = [CustomCharge("c", "X", 3, each, None)]
    lines = advance_lines(plan, period, MARCH) + arrears_lines(
        plan, period, MARCH, {"seats": seats, "api_calls": calls}, custom
    )
    amounts = [line.amount for line in lines]
    for amount in amounts:
        assert amount.as_tuple().exponent == -minor_units(currency)
    t = totals(amounts, currency)
    assert t.total == sum(amounts, D(0))
    for value in vars(t).values():
        assert value.as_tuple().exponent == -minor_units(currency)


# --- validate ------------------------------------------------------------------------------------


def test_validate_a_good_draft() -> None:
    assert validate(D("10.00"), 2) == []
    assert validate(D("0.00"), 1) == []


def test_validate_negative_total_is_critical() -> None:
    (issue,) = validate(D("-0.01"), 2)
    assert (issue.code, issue.severity, issue.field) == ("negative_total", "critical", "totals.total")


def test_validate_no_lines_is_critical() -> None:
    (issue,) = validate(D("0"), 0)
    assert (issue.code, issue.severity, issue.field) == ("no_lines", "critical", "lines")


@pytest.mark.parametrize(
    ("total", "count", "codes"), [("-1", 0, ["negative_total", "no_lines"]), ("5", 0, ["no_lines"])]
)
def test_validate_reports_every_issue(total: str, count: int, codes: list[str]) -> None:
    assert [i.code for i in validate(D(total), count)] == codes
