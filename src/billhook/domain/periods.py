"""Billing periods: cadences, anchors and ISO 8601 durations.

A period ``n`` starts at ``anchor + n × cadence``, always counted from the anchor, so a
subscription anchored on the 31st bills Jan 31 → Feb 28 → Mar 31 and never drifts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache

from dateutil.relativedelta import relativedelta

CADENCES = ("P1D", "P1W", "P1M", "P3M", "P1Y")

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.ASCII,
)
_MAX_PART = 100_000


class DurationError(ValueError):
    pass


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration with calendar parts (years, months) kept apart from exact ones."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.fullmatch(text or "")
        if not match:
            raise DurationError(f"{text!r} is not an ISO 8601 duration such as P1M or PT1H")
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        if any(v > _MAX_PART for v in parts.values()):
            raise DurationError(f"{text!r} is too long")
        return cls(**parts)

    def times(self, n: int) -> relativedelta:
        return _times(self, n)

    def after(self, start: datetime) -> datetime:
        return start + self.times(1)

    def is_zero(self) -> bool:
        return not any((self.years, self.months, self.weeks, self.days, self.hours, self.minutes, self.seconds))

    def iso(self) -> str:
        date = "".join(
            f"{v}{u}" for v, u in ((self.years, "Y"), (self.months, "M"), (self.weeks, "W"), (self.days, "D")) if v
        )
        time = "".join(f"{v}{u}" for v, u in ((self.hours, "H"), (self.minutes, "M"), (self.seconds, "S")) if v)
        if not date and not time:
            return "P0D"
        return "P" + date + ("T" + time if time else "")


@lru_cache(maxsize=4096)
def _times(duration: Duration, n: int) -> relativedelta:
    """``n`` times a duration, made once: a relativedelta takes longer to make than to add, and a worker
    adds the same few (its cadences times the period numbers of the day, its profiles' terms) all day."""
    return relativedelta(
        years=duration.years * n,
        months=duration.months * n,
        weeks=duration.weeks * n,
        days=duration.days * n,
        hours=duration.hours * n,
        minutes=duration.minutes * n,
        seconds=duration.seconds * n,
    )


@dataclass(frozen=True)
class Period:
    """A half-open interval ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    def seconds(self) -> int:
        return int((self.end - self.start) / timedelta(seconds=1))


def parse_cadence(text: str) -> Duration:
    if text not in CADENCES:
        raise DurationError(f"billing cadence must be one of {', '.join(CADENCES)}")
    return Duration.parse(text)


def boundary(anchor: datetime, cadence: Duration, n: int) -> datetime:
    """Start of period ``n`` counted from ``anchor`` (n may be negative)."""
    return anchor + cadence.times(n)


def index_at(anchor: datetime, cadence: Duration, moment: datetime) -> int:
    """The ``n`` with ``boundary(n) <= moment < boundary(n + 1)``."""
    return _locate(anchor, cadence, moment)[0]


def period_containing(anchor: datetime, cadence: Duration, moment: datetime) -> Period:
    _, start, end = _locate(anchor, cadence, moment)
    return Period(start, end)


def _locate(anchor: datetime, cadence: Duration, moment: datetime) -> tuple[int, datetime, datetime]:
    """``n`` and the boundaries around ``moment``: estimated from the cadence's average length, then
    corrected; each boundary is worked out once (the worker does this for every period it closes)."""
    average = _average_length(cadence)
    n = int((moment - anchor) / average) if average else 0
    start, end = boundary(anchor, cadence, n), boundary(anchor, cadence, n + 1)
    while start > moment:
        n -= 1
        start, end = boundary(anchor, cadence, n), start
    while end <= moment:
        n += 1
        start, end = end, boundary(anchor, cadence, n + 1)
    return n, start, end


@cache
def _average_length(cadence: Duration) -> timedelta:
    """A cadence's length on average over the Gregorian calendar's 400 years (only ever an estimate)."""
    return timedelta(
        days=(cadence.years * 12 + cadence.months) * 146_097 / 4_800 + cadence.weeks * 7 + cadence.days,
        hours=cadence.hours,
        minutes=cadence.minutes,
        seconds=cadence.seconds,
    )
