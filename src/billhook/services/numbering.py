"""Final invoice numbers: a gap-free sequence per scope (a billing profile), taken under lock."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select, update

from billhook.store.schema import billing_profiles, number_sequences
from billhook.store.sql import insert_ignore
from billhook.store.uow import UnitOfWork

# What next_number makes: INV-000001, or INV-<profile ULID>-000001. Nobody else may take such a number,
# or the sequence would one day run into it and could not issue any more.
RESERVED = re.compile(r"INV-(?:[0-9A-HJKMNP-TV-Z]{26}-)?[0-9]{6,}")


def _scoped_prefix(uow: UnitOfWork, namespace: str, scope: str, prefix: str) -> str:
    """Numbers are unique in the namespace, so each profile's sequence needs its own prefix.

    The namespace's first profile (its original default) keeps the bare prefix (``INV-000001``);
    any other profile's numbers carry its id (``INV-<profile id>-000001``).
    """
    key = ("first_profile", namespace)
    first = uow.memo.get(key)
    if first is None:  # once there is one, the namespace's first profile stays the first
        first = uow.memo[key] = uow.conn.execute(
            select(billing_profiles.c.id)
            .where(billing_profiles.c.namespace == namespace)
            .order_by(billing_profiles.c.created_at, billing_profiles.c.id)
            .limit(1)
        ).scalar()
    return prefix if scope in ("default", first) else f"{prefix}-{scope}"


def next_number(uow: UnitOfWork, namespace: str, scope: str, prefix: str = "INV") -> str:
    """Take the next number. The first one a transaction takes locks the sequence's row until the
    transaction ends, so none is skipped; the ones after it are counted in memory, and the row gets
    the final count just before the commit (one statement for a whole chunk of invoices)."""
    counter = uow.memo.get(("numbers", namespace, scope))
    if counter is None:
        counter = uow.memo[("numbers", namespace, scope)] = _Counter(_lock_and_take(uow, namespace, scope))
        uow.before_commit(lambda: _store(uow, namespace, scope, counter))
    assert isinstance(counter, _Counter)
    current = counter.take()
    return f"{_scoped_prefix(uow, namespace, scope, prefix)}-{current:06d}"


class _Counter:
    def __init__(self, first: int) -> None:
        self.first = first
        self.next = first

    def take(self) -> int:
        self.next += 1
        return self.next - 1


def _where(namespace: str, scope: str) -> Any:
    return (number_sequences.c.namespace == namespace) & (number_sequences.c.scope == scope)


def _lock_and_take(uow: UnitOfWork, namespace: str, scope: str) -> int:
    """The next free number, its row locked until the transaction ends."""
    lock = select(number_sequences.c.next_value).where(_where(namespace, scope)).with_for_update()
    free = uow.conn.execute(lock).scalar()
    if free is None:  # the scope's first number
        insert_ignore(
            uow.conn,
            number_sequences,
            {"namespace": namespace, "scope": scope, "next_value": 1},
            ("namespace", "scope"),
        )
        free = uow.conn.execute(lock).scalar_one()
    return int(free)


def _store(uow: UnitOfWork, namespace: str, scope: str, counter: _Counter) -> None:
    if counter.next != counter.first:
        uow.conn.execute(update(number_sequences).where(_where(namespace, scope)).values(next_value=counter.next))
