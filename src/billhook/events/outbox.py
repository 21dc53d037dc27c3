"""The outbox: every event is written in the same transaction as the change it reports, and fanned
out there and then into one delivery per subscribed endpoint, so none is lost."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from billhook.events.catalog import CATALOG
from billhook.ids import new_id
from billhook.store.schema import events, webhook_deliveries, webhook_endpoints
from billhook.store.uow import UnitOfWork


def _endpoints(uow: UnitOfWork, namespace: str) -> list[tuple[str, list[str]]]:
    key = ("endpoints", namespace)
    if key not in uow.memo:
        rows = uow.conn.execute(
            select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
                webhook_endpoints.c.namespace == namespace,
                webhook_endpoints.c.disabled.is_(False),
                webhook_endpoints.c.deleted_at.is_(None),
            )
        ).all()
        uow.memo[key] = [(r.id, list(r.event_types or [])) for r in rows]
    return uow.memo[key]  # type: ignore[return-value]


def subscribers(uow: UnitOfWork, namespace: str, type_: str) -> list[str]:
    """Active endpoints that receive ``type_`` (an endpoint with no filter receives every type)."""
    key = ("subscribers", namespace, type_)
    if key not in uow.memo:  # as long as ``_endpoints`` is
        uow.memo[key] = [ep for ep, types in _endpoints(uow, namespace) if not types or type_ in types]
    return uow.memo[key]  # type: ignore[return-value]


def record(uow: UnitOfWork, namespace: str, type_: str, subject_id: str | None, data: dict[str, Any]) -> str:
    return record_many(uow, namespace, [(type_, subject_id, data)])[0]


def record_many(uow: UnitOfWork, namespace: str, items: list[tuple[str, str | None, dict[str, Any]]]) -> list[str]:
    """Write events (in order) and their deliveries."""
    rows: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for type_, subject_id, data in items:
        if type_ not in CATALOG:
            raise ValueError(f"unknown event type {type_!r}")
        event_id = new_id()
        rows.append(
            {
                "id": event_id,
                "namespace": namespace,
                "type": type_,
                "subject_id": subject_id,
                "occurred_at": uow.now,
                "data": data,
            }
        )
        deliveries.extend(
            {
                "id": new_id(),
                "namespace": namespace,
                "endpoint_id": endpoint_id,
                "event_id": event_id,
                "event_type": type_,
                "subject_id": subject_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": uow.now,
                "created_at": uow.now,
                "updated_at": uow.now,
            }
            for endpoint_id in subscribers(uow, namespace, type_)
        )
    uow.append(events, rows)  # written with the transaction (see store.buffer)
    uow.append(webhook_deliveries, deliveries)
    return [str(r["id"]) for r in rows]
