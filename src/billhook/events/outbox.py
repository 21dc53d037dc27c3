"""The outbox: every event is written in the same transaction as the change it reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from billhook.ids import new_id
from billhook.store.schema import events
from billhook.store.uow import UnitOfWork

CATALOG = (
    "invoice.created",
    "invoice.updated",
    "invoice.paid",
    "invoice.overdue",
    "subscription.created",
    "subscription.canceled",
    "subscription.billable",
)


def record(uow: UnitOfWork, namespace: str, type_: str, subject_id: str | None, data: dict[str, Any]) -> str:
    if type_ not in CATALOG:
        raise ValueError(f"unknown event type {type_!r}")
    event_id = new_id()
    uow.conn.execute(
        insert(events).values(
            id=event_id, namespace=namespace, type=type_, subject_id=subject_id, occurred_at=uow.now, data=data
        )
    )
    return event_id
