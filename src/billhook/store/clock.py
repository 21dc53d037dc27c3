"""Clocks. Services read the time only through one of these, once per unit of work.

The test clock is a row in the database, so every process (API, workers) sees the same
simulated time, and it survives restarts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Connection, select, update

from billhook.store.schema import test_clock
from billhook.store.sql import insert_ignore


class Clock(Protocol):
    is_test: bool

    def now(self, conn: Connection) -> datetime: ...


def wall_now() -> datetime:
    """Real time, for leases and delivery timeouts, which are about processes, not billing."""
    return datetime.now(UTC)


class SystemClock:
    is_test = False

    def now(self, conn: Connection) -> datetime:
        return wall_now()


_NOW = select(test_clock.c.now).where(test_clock.c.id == 1)


class StoredTestClock:
    """The simulated time, kept in the ``test_clock`` table; it only moves forward."""

    is_test = True

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start

    def now(self, conn: Connection) -> datetime:
        value = conn.execute(_NOW).scalar_one_or_none()
        if value is None:
            start = (self.start or wall_now()).replace(microsecond=0)
            insert_ignore(conn, test_clock, {"id": 1, "now": start, "updated_at": wall_now()}, ("id",))
            value = conn.execute(_NOW).scalar_one()
        return value

    def set(self, conn: Connection, to: datetime) -> datetime:
        conn.execute(update(test_clock).where(test_clock.c.id == 1).values(now=to, updated_at=wall_now()))
        return to
