"""Final invoice numbers: a gap-free sequence per scope (a billing profile), taken under lock."""

from __future__ import annotations

from sqlalchemy import select, update

from billhook.store.schema import number_sequences
from billhook.store.sql import insert_ignore
from billhook.store.uow import UnitOfWork


def next_number(uow: UnitOfWork, namespace: str, scope: str, prefix: str = "INV") -> str:
    """Take the next number; the row lock holds it until this transaction ends, so none is skipped."""
    insert_ignore(
        uow.conn, number_sequences, {"namespace": namespace, "scope": scope, "next_value": 1}, ("namespace", "scope")
    )
    key = (number_sequences.c.namespace == namespace) & (number_sequences.c.scope == scope)
    current = uow.conn.execute(select(number_sequences.c.next_value).where(key).with_for_update()).scalar_one()
    uow.conn.execute(update(number_sequences).where(key).values(next_value=current + 1))
    return f"{prefix}-{current:06d}"
