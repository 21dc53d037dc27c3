"""Billing periods: ISO 8601 durations and anchored period arithmetic that never drifts."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from billhook.domain.periods import (
    CADENCES,
    Duration,
    DurationError,
    Period,
    boundary,
    index_at,
    parse_cadence,
    period_containing,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- Duration.parse ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1M", Duration(months=1)),
        ("PT1H", Duration(hours=1)),
        ("P1Y2M3DT4H5M6S", Duration(years=1, months=2, days=3, hours=4, minutes=5, seconds=6)),
        ("P1D", Duration(days=1)),
        ("P1W", Duration(weeks=1)),
        ("P3M", Duration(months=3)),
        ("P1Y", Duration(years=1)),
        ("PT30M", Duration(minutes=30)),
        ("PT90S", Duration(seconds=90)),
        ("P0D", Duration()),
        ("P30D", Duration(days=30)),
        ("P1DT12H", Duration(days=1, hours=12)),
    ],
)
def test_duration_parse_valid(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "1M",
        "P-1D",
        "P1DT",
        "p1m",
        "P1.5M",
        "P1,5D",
        " P1M",
        "P1M ",
        "P1M\n",  # a trailing newline is not part of a duration
        "P\u0661M",  # ISO 8601 digits are ASCII (this is ARABIC-INDIC DIGIT ONE)
        "P1H",  # hours belong after T
        "PT1D",
        "P1M1Y",  # order matters
        "PT1H1H",
        "P100001D",  # absurdly long
        "month",
    ],
)
def test_duration_parse_invalid(text: str) -> None:
    with pytest.raises(DurationError):
        Duration.parse(text)


@given(
    st.builds(
        Duration,
        years=st.integers(0, 50),
        months=st.integers(0, 50),
        weeks=st.integers(0, 50),
        days=st.integers(0, 50),
        hours=st.integers(0, 50),
        minutes=st.integers(0, 50),
        seconds=st.integers(0, 50),
    )
)
def test_duration_iso_round_trips(duration: Duration) -> None:
    assert Duration.parse(duration.iso()) == duration
    assert duration.is_zero() == (duration.iso() == "P0D")


def test_duration_after() -> None:
    assert Duration.parse("PT1H").after(utc(2026, 3, 30, 12)) == utc(2026, 3, 30, 13)
    assert Duration.parse("P1M").after(utc(2026, 1, 31)) == utc(2026, 2, 28)
    assert Duration.parse("P30D").after(utc(2026, 1, 31)) == utc(2026, 3, 2)
    assert Duration.parse("P0D").after(utc(2026, 1, 31)) == utc(2026, 1, 31)


def test_parse_cadence_accepts_only_the_cadences() -> None:
    for text in CADENCES:
        assert not parse_cadence(text).is_zero()
    for text in ("P2M", "PT1H", "P0D", "P1M\n", "monthly", ""):
        with pytest.raises(DurationError, match="billing cadence"):
            parse_cadence(text)


def test_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError):
        Period(utc(2026, 1, 1), utc(2026, 1, 1))
    with pytest.raises(ValueError):
        Period(utc(2026, 1, 2), utc(2026, 1, 1))
    assert Period(utc(2026, 1, 1), utc(2026, 1, 2)).seconds() == 86400


# --- anchored arithmetic: worked examples -------------------------------------------------------

MONTHLY = Duration.parse("P1M")


def test_anchor_on_the_31st_never_drifts() -> None:
    anchor = utc(2026, 1, 31, 9, 30)
    starts = [boundary(anchor, MONTHLY, n) for n in range(6)]
    assert starts == [
        utc(2026, 1, 31, 9, 30),
        utc(2026, 2, 28, 9, 30),
        utc(2026, 3, 31, 9, 30),
        utc(2026, 4, 30, 9, 30),
        utc(2026, 5, 31, 9, 30),
        utc(2026, 6, 30, 9, 30),
    ]


def test_anchor_on_the_31st_in_a_leap_year() -> None:
    anchor = utc(2028, 1, 31)
    assert [boundary(anchor, MONTHLY, n) for n in range(4)] == [
        utc(2028, 1, 31),
        utc(2028, 2, 29),
        utc(2028, 3, 31),
        utc(2028, 4, 30),
    ]


def test_negative_boundaries_count_back_from_the_anchor() -> None:
    anchor = utc(2026, 3, 31)
    assert boundary(anchor, MONTHLY, -1) == utc(2026, 2, 28)
    assert boundary(anchor, MONTHLY, -2) == utc(2026, 1, 31)


def test_yearly_anchor_on_feb_29() -> None:
    anchor = utc(2028, 2, 29)
    yearly = Duration.parse("P1Y")
    assert boundary(anchor, yearly, 1) == utc(2029, 2, 28)
    assert boundary(anchor, yearly, 4) == utc(2032, 2, 29)


def test_quarterly_from_november_30() -> None:
    anchor = utc(2025, 11, 30)
    quarterly = Duration.parse("P3M")
    assert [boundary(anchor, quarterly, n) for n in range(4)] == [
        utc(2025, 11, 30),
        utc(2026, 2, 28),
        utc(2026, 5, 30),
        utc(2026, 8, 30),
    ]


def test_period_containing_worked_examples() -> None:
    anchor = utc(2026, 1, 31)
    assert period_containing(anchor, MONTHLY, utc(2026, 3, 1)) == Period(utc(2026, 2, 28), utc(2026, 3, 31))
    # the start is inside, the end is not: periods are half-open
    assert period_containing(anchor, MONTHLY, utc(2026, 3, 31)) == Period(utc(2026, 3, 31), utc(2026, 4, 30))
    assert period_containing(anchor, MONTHLY, utc(2026, 3, 30, 23, 59, 59)).start == utc(2026, 2, 28)
    # before the anchor
    assert period_containing(anchor, MONTHLY, utc(2025, 12, 31)) == Period(utc(2025, 12, 31), utc(2026, 1, 31))
    assert index_at(anchor, MONTHLY, utc(2025, 12, 30)) == -2


def test_index_at_worked_examples() -> None:
    anchor = utc(2026, 1, 31)
    assert index_at(anchor, MONTHLY, anchor) == 0
    assert index_at(anchor, MONTHLY, utc(2026, 2, 27, 23, 59)) == 0
    assert index_at(anchor, MONTHLY, utc(2026, 2, 28)) == 1
    assert index_at(anchor, MONTHLY, utc(2027, 1, 31)) == 12
    assert index_at(anchor, MONTHLY, anchor - timedelta(microseconds=1)) == -1


# --- properties -----------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
cadences = st.sampled_from(CADENCES).map(Duration.parse)


@given(anchor=moments, cadence=cadences, moment=moments)
def test_period_containing_contains_the_moment(anchor: datetime, cadence: Duration, moment: datetime) -> None:
    period = period_containing(anchor, cadence, moment)
    assert period.start <= moment < period.end
    n = index_at(anchor, cadence, moment)
    assert period == Period(boundary(anchor, cadence, n), boundary(anchor, cadence, n + 1))


@given(anchor=moments, cadence=cadences, moment=moments)
def test_consecutive_periods_tile_without_gaps_or_overlaps(
    anchor: datetime, cadence: Duration, moment: datetime
) -> None:
    period = period_containing(anchor, cadence, moment)
    following = period_containing(anchor, cadence, period.end)
    assert following.start == period.end
    preceding = period_containing(anchor, cadence, period.start - timedelta(microseconds=1))
    assert preceding.end == period.start
    # the last instant of a period still belongs to it
    assert period_containing(anchor, cadence, period.end - timedelta(microseconds=1)) == period


@given(anchor=moments, cadence=cadences, n=st.integers(-300, 300))
def test_boundary_is_always_anchor_plus_n_cadences(anchor: datetime, cadence: Duration, n: int) -> None:
    start = boundary(anchor, cadence, n)
    assert start == anchor + cadence.times(n)
    assert boundary(anchor, cadence, n + 1) > start
    assert index_at(anchor, cadence, start) == n
    assert index_at(anchor, cadence, boundary(anchor, cadence, n + 1) - timedelta(microseconds=1)) == n
    assert start.time() == anchor.time()
    assert start.tzinfo == anchor.tzinfo


@given(anchor=moments, n=st.integers(-300, 300), cadence=st.sampled_from(["P1M", "P3M", "P1Y"]))
def test_calendar_cadences_keep_the_anchor_day_when_the_month_has_it(anchor: datetime, n: int, cadence: str) -> None:
    start = boundary(anchor, Duration.parse(cadence), n)
    months = {"P1M": 1, "P3M": 3, "P1Y": 12}[cadence] * n
    expected_month = anchor.year * 12 + anchor.month - 1 + months
    assert start.year * 12 + start.month - 1 == expected_month
    days_in_month = calendar.monthrange(start.year, start.month)[1]
    assert start.day == min(anchor.day, days_in_month)


@given(anchor=moments, n=st.integers(-1000, 1000))
def test_daily_and_weekly_cadences_are_exact_lengths(anchor: datetime, n: int) -> None:
    assert boundary(anchor, Duration.parse("P1D"), n) - anchor == timedelta(days=n)
    assert boundary(anchor, Duration.parse("P1W"), n) - anchor == timedelta(weeks=n)


@given(anchor=moments, cadence=cadences, moment=moments)
def test_index_at_is_consistent_with_boundary(anchor: datetime, cadence: Duration, moment: datetime) -> None:
    n = index_at(anchor, cadence, moment)
    assert boundary(anchor, cadence, n) <= moment < boundary(anchor, cadence, n + 1)
    assert (n >= 0) == (moment >= anchor)


def test_times_matches_relativedelta() -> None:
    assert Duration.parse("P1Y2M3DT4H5M6S").times(2) == relativedelta(
        years=2, months=4, days=6, hours=8, minutes=10, seconds=12
    )
