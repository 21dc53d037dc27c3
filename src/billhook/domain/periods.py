"""Billing periods: cadences, anchors and ISO 8601 durations.

A period ``n`` starts at ``anchor + n × cadence``, always counted from the anchor, so a
subscription anchored on the 31st bills Jan 31 → Feb 28 → Mar 31 and never drifts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

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
        return relativedelta(
            years=self.years * n,
            months=self.months * n,
            weeks=self.weeks * n,
            days=self.days * n,
            hours=self.hours * n,
            minutes=self.minutes * n,
            seconds=self.seconds * n,
        )

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
    # Estimate from the average length of a cadence, then correct: exact and fast.
    approx = boundary(anchor, cadence, 1) - anchor
    n = int((moment - anchor) / approx) if approx else 0
    while boundary(anchor, cadence, n) > moment:
        n -= 1
    while boundary(anchor, cadence, n + 1) <= moment:
        n += 1
    return n


def period_containing(anchor: datetime, cadence: Duration, moment: datetime) -> Period:
    n = index_at(anchor, cadence, moment)
    return Period(boundary(anchor, cadence, n), boundary(anchor, cadence, n + 1))
