"""The test clocks: one per namespace; read one, and walk it forward.

Advancing a namespace's clock to a target starts a walk: the clock then steps through every instant
at which something of that namespace falls due (a subscription's ``next_billing_at``, an invoice's
``next_action_at``, a webhook delivery's ``next_attempt_at``) up to the target, in time order. A step
moves the clock only once nothing of the namespace is due at or before its time, leased or not: a row
stays due until the transaction that processed it commits, so what a period's close makes due at the
same instant (a delivery, say) is processed at that instant too. Each step is one short transaction
holding the clock's row, so any number of workers may step at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.engine import Row

from billhook.errors import Conflict, InvalidInput
from billhook.services.common import duration_field, iso, utc_field
from billhook.store.clock import DEFAULT_NAMESPACE, StoredTestClock, wall_now
from billhook.store.schema import api_keys, invoices, namespaces, subscriptions, test_clocks, webhook_deliveries
from billhook.store.uow import UnitOfWork

# The worker's three due columns, with their tables.
DUE = ((subscriptions, "next_billing_at"), (invoices, "next_action_at"), (webhook_deliveries, "next_attempt_at"))


@dataclass(frozen=True)
class Step:
    """What one step did: ``moved`` the clock to ``now``; found work still ``due`` at ``now``; ``reached``
    the walk's target with nothing due (the walk is over); or found the clock ``idle`` (no walk)."""

    outcome: Literal["moved", "due", "reached", "idle"]
    now: datetime
    walk_to: datetime | None


def _clock(uow: UnitOfWork) -> StoredTestClock:
    if not isinstance(uow.clock, StoredTestClock):
        raise Conflict("the test clock is off; start the server with --test-clock", code="test_clock_off")
    return uow.clock


def _namespace(uow: UnitOfWork) -> str:
    return uow.namespace or DEFAULT_NAMESPACE


def _row(uow: UnitOfWork, *, lock: bool) -> Row[Any]:
    """The namespace's clock row (made if new), locked for the transaction if ``lock``."""
    ns = _namespace(uow)
    _clock(uow).now(uow.conn, ns)
    query = select(test_clocks).where(test_clocks.c.namespace == ns)
    return uow.conn.execute(query.with_for_update() if lock else query).one()


def _state(ns: str, row: Row[Any]) -> dict[str, Any]:
    walk_to = row.walk_to if row.walk_to is not None and row.walk_to > row.now else None
    return {
        "namespace": ns,
        "now": iso(row.now),
        "advancingTo": None if walk_to is None else iso(walk_to),
        "enabled": True,
    }


def show(uow: UnitOfWork) -> dict[str, Any]:
    """The namespace's clock: its time, and the target of the walk in progress, if any."""
    return _state(_namespace(uow), _row(uow, lock=False))


def advance(uow: UnitOfWork, *, to: datetime | None = None, by: str | None = None) -> dict[str, Any]:
    """Start walking the namespace's clock to ``to``, or ``by`` a duration from its time. The walk is
    done by whoever steps (``step``): a worker, or the caller waiting for it. A walk already in progress
    to a later target keeps that target."""
    _clock(uow)
    if (to is None) == (by is None):
        raise InvalidInput.on("to", "give either to or by")
    row = _row(uow, lock=True)
    if to is not None:
        target = utc_field(to, "to")
    else:
        assert by is not None
        try:
            target = duration_field(by, "by").after(row.now)
        except (OverflowError, ValueError) as exc:
            raise InvalidInput.on("by", "is too long") from exc
    if target < row.now:
        raise InvalidInput.on(
            "to" if to is not None else "by", f"the test clock only moves forward (it is {iso(row.now)})"
        )
    walk_to = max(target, row.walk_to) if row.walk_to is not None else target
    ns = _namespace(uow)
    uow.conn.execute(
        update(test_clocks).where(test_clocks.c.namespace == ns).values(walk_to=walk_to, updated_at=wall_now())
    )
    return _state(ns, _row(uow, lock=False))


def due(uow: UnitOfWork, namespace: str, now: datetime) -> int:
    """How many rows of the namespace are due at ``now``, leased or not (one statement: a snapshot)."""
    counts = [
        select(func.count())
        .select_from(table)
        .where(table.c.namespace == namespace, table.c[column] <= now)
        .scalar_subquery()
        for table, column in DUE
    ]
    return sum(int(n) for n in uow.conn.execute(select(*counts)).one())


def _next_due(uow: UnitOfWork, namespace: str, after: datetime) -> datetime | None:
    """The first instant after ``after`` at which something of the namespace falls due."""
    firsts = [
        select(func.min(table.c[column]))
        .where(table.c.namespace == namespace, table.c[column] > after)
        .scalar_subquery()
        for table, column in DUE
    ]
    found = [t for t in uow.conn.execute(select(*firsts)).one() if t is not None]
    return min(found) if found else None


def step(uow: UnitOfWork) -> Step:
    """One step of the namespace's walk, in the caller's transaction (commit it at once: it holds the
    clock's row). The clock moves to the next instant something falls due, or to the walk's target if
    that comes first, only when nothing is due at its time."""
    ns = _namespace(uow)
    row = _row(uow, lock=True)
    if row.walk_to is None:
        return Step("idle", row.now, None)
    if due(uow, ns, row.now):
        return Step("due", row.now, row.walk_to)
    where = test_clocks.c.namespace == ns
    if row.now >= row.walk_to:
        uow.conn.execute(update(test_clocks).where(where).values(walk_to=None, updated_at=wall_now()))
        return Step("reached", row.now, None)
    upcoming = _next_due(uow, ns, row.now)
    to = row.walk_to if upcoming is None or upcoming > row.walk_to else upcoming
    uow.conn.execute(update(test_clocks).where(where).values(now=to, updated_at=wall_now()))
    return Step("moved", to, row.walk_to)


def walking(uow: UnitOfWork) -> list[str]:
    """The namespaces whose clock has a walk in progress."""
    return list(
        uow.conn.execute(
            select(test_clocks.c.namespace).where(test_clocks.c.walk_to.is_not(None)).order_by(test_clocks.c.namespace)
        ).scalars()
    )


def make_clocks(uow: UnitOfWork) -> None:
    """A clock for every namespace that has an API key or a namespace row, and for the default one, at
    the start for those that have none (before workers look for what is due in them)."""
    clock = _clock(uow)
    for ns in {DEFAULT_NAMESPACE, *_known_namespaces(uow)}:
        clock.now(uow.conn, ns)


def _known_namespaces(uow: UnitOfWork) -> list[str]:
    keys = select(api_keys.c.namespace.label("name")).distinct()
    named = select(namespaces.c.name.label("name"))
    return sorted(set(uow.conn.execute(keys.union(named)).scalars()))
