"""Final invoice numbers: a gap-free sequence per scope (a billing profile), taken under lock."""

from __future__ import annotations

import re

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
    first = uow.conn.execute(
        select(billing_profiles.c.id)
        .where(billing_profiles.c.namespace == namespace)
        .order_by(billing_profiles.c.created_at, billing_profiles.c.id)
        .limit(1)
    ).scalar()
    return prefix if scope in ("default", first) else f"{prefix}-{scope}"


def next_number(uow: UnitOfWork, namespace: str, scope: str, prefix: str = "INV") -> str:
    """Take the next number; the row lock holds it until this transaction ends, so none is skipped."""
    insert_ignore(
        uow.conn, number_sequences, {"namespace": namespace, "scope": scope, "next_value": 1}, ("namespace", "scope")
    )
    key = (number_sequences.c.namespace == namespace) & (number_sequences.c.scope == scope)
    current = uow.conn.execute(select(number_sequences.c.next_value).where(key).with_for_update()).scalar_one()
    uow.conn.execute(update(number_sequences).where(key).values(next_value=current + 1))
    return f"{_scoped_prefix(uow, namespace, scope, prefix)}-{current:06d}"
