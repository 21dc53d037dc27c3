"""Clocks. Services read the time only through one of these, once per unit of work.

The test clock is a row per namespace in the database, so every process (API, workers) sees the same
simulated time for a namespace, and it survives restarts. A namespace's clock moves only forward, and
only by stepping (``services.test_clock``): from one instant at which something of that namespace
falls due to the next, each processed before the clock moves on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, func, select, update

from billhook.store.db import READONLY
from billhook.store.schema import test_clocks
from billhook.store.sql import insert_ignore

DEFAULT_NAMESPACE = "default"


class Clock(Protocol):
    is_test: bool

    def now(self, conn: Connection, namespace: str | None = None) -> datetime: ...


def wall_now() -> datetime:
    """Real time, for leases and delivery timeouts, which are about processes, not billing."""
    return datetime.now(UTC)


class SystemClock:
    is_test = False

    def now(self, conn: Connection, namespace: str | None = None) -> datetime:
        return wall_now()


_NOW = select(test_clocks.c.now).where(test_clocks.c.namespace == bindparam("ns"))


def namespace_now(row_namespace: Any) -> Any:
    """The time of the clock of the namespace in ``row_namespace`` (a column), as a correlated subquery:
    a row is due when its due column is at or before it."""
    return select(test_clocks.c.now).where(test_clocks.c.namespace == row_namespace).scalar_subquery()


def latest_now() -> Any:
    """The latest of all the namespaces' clocks (uncorrelated: lets a due column's index bound the scan)."""
    return select(func.max(test_clocks.c.now)).scalar_subquery()


class StoredTestClock:
    """The simulated time of each namespace, kept in the ``test_clocks`` table; it only moves forward.

    A namespace's clock is made the first time its time is asked for, at ``start`` (or the wall time,
    to the second, when no start is set)."""

    is_test = True

    def __init__(self, start: datetime | None = None) -> None:
        self.start = start

    def now(self, conn: Connection, namespace: str | None = None) -> datetime:
        ns = namespace or DEFAULT_NAMESPACE
        value = conn.execute(_NOW, {"ns": ns}).scalar_one_or_none()
        if value is None:
            value = self.make(conn, ns)
        return value

    def make(self, conn: Connection, namespace: str) -> datetime:
        """The namespace's clock, made at the start if it has none yet (a read-only unit of work makes
        it in a short transaction of its own)."""
        start = (self.start or wall_now()).replace(microsecond=0)
        row = {"namespace": namespace, "now": start, "walk_to": None, "updated_at": wall_now()}
        if conn.get_execution_options().get(READONLY):
            with conn.engine.begin() as own:
                insert_ignore(own, test_clocks, row, ("namespace",))
                value: datetime = own.execute(_NOW, {"ns": namespace}).scalar_one()
            return value
        insert_ignore(conn, test_clocks, row, ("namespace",))
        return conn.execute(_NOW, {"ns": namespace}).scalar_one()

    def set(self, conn: Connection, to: datetime, namespace: str = DEFAULT_NAMESPACE) -> datetime:
        """Put the namespace's clock at ``to`` at once, without stepping (set-up of benchmarks only)."""
        self.now(conn, namespace)
        conn.execute(
            update(test_clocks)
            .where(test_clocks.c.namespace == namespace)
            .values(now=to, walk_to=None, updated_at=wall_now())
        )
        return to
