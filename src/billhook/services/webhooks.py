"""Webhook endpoints, deliveries and their attempts, and the event log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Text, bindparam, cast, insert, select, update

from billhook.domain.lifecycle import S
from billhook.errors import InvalidInput, NotFound
from billhook.events import signing, transport
from billhook.events.catalog import BILLABLE, CATALOG
from billhook.ids import new_id
from billhook.services import billable, invoices, lifecycle, numbering
from billhook.services.common import Actor, Page, iso, paginate
from billhook.store.clock import wall_now
from billhook.store.db import json_text
from billhook.store.schema import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from billhook.store.schema import invoices as invoices_t
from billhook.store.sql import among
from billhook.store.uow import UnitOfWork

ROTATION_OVERLAP = timedelta(hours=24)


# ---------------------------------------------------------------------------------------- endpoints


def endpoint_view(row: Row[Any], *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "eventTypes": list(row.event_types or []),
        "disabled": row.disabled,
        "disabledReason": row.disabled_reason,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
    if with_secret:
        out["secret"] = row.secret
    return out


def _find_endpoint(uow: UnitOfWork, namespace: str, endpoint_id: str) -> Row[Any]:
    row = uow.conn.execute(
        select(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id,
            webhook_endpoints.c.namespace == namespace,
            webhook_endpoints.c.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return row


def _validated(data: dict[str, Any], allow_private: bool) -> dict[str, Any]:
    try:
        transport.check_url(data["url"], allow_private=allow_private, resolve=False)
    except transport.UnsafeURL as exc:
        raise InvalidInput.on("url", str(exc)) from exc
    types = list(dict.fromkeys(data.get("eventTypes") or []))
    for i, t in enumerate(types):
        if t not in CATALOG:
            raise InvalidInput.on(f"eventTypes[{i}]", f"unknown event type {t!r}; one of {', '.join(CATALOG)}")
    return {"url": data["url"], "event_types": types, "description": data.get("description")}


def create_endpoint(uow: UnitOfWork, actor: Actor, data: dict[str, Any], *, allow_private: bool) -> dict[str, Any]:
    values = _validated(data, allow_private)
    endpoint_id = new_id()
    uow.conn.execute(
        insert(webhook_endpoints).values(
            values
            | {
                "id": endpoint_id,
                "namespace": actor.namespace,
                "disabled": bool(data.get("disabled")),
                "secret": signing.new_secret(),
                "created_at": uow.now,
                "updated_at": uow.now,
            }
        )
    )
    return endpoint_view(_find_endpoint(uow, actor.namespace, endpoint_id), with_secret=True)


def replace_endpoint(
    uow: UnitOfWork, actor: Actor, endpoint_id: str, data: dict[str, Any], *, allow_private: bool
) -> dict[str, Any]:
    row = _find_endpoint(uow, actor.namespace, endpoint_id)
    values = _validated(data, allow_private) | {"disabled": bool(data.get("disabled")), "updated_at": uow.now}
    if not values["disabled"]:
        values["disabled_reason"] = None
    uow.conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == row.id).values(values))
    return endpoint_view(_find_endpoint(uow, actor.namespace, row.id))


def delete_endpoint(uow: UnitOfWork, actor: Actor, endpoint_id: str) -> None:
    row = _find_endpoint(uow, actor.namespace, endpoint_id)
    uow.conn.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == row.id).values(deleted_at=uow.now, updated_at=uow.now)
    )


def rotate_secret(uow: UnitOfWork, actor: Actor, endpoint_id: str) -> dict[str, Any]:
    """A new secret; the old one keeps signing alongside it for 24 hours."""
    row = _find_endpoint(uow, actor.namespace, endpoint_id)
    uow.conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == row.id)
        .values(
            secret=signing.new_secret(),
            previous_secret=row.secret,
            previous_secret_expires_at=wall_now() + ROTATION_OVERLAP,
            updated_at=uow.now,
        )
    )
    return endpoint_view(_find_endpoint(uow, actor.namespace, row.id), with_secret=True)


def get_endpoint(uow: UnitOfWork, namespace: str, endpoint_id: str) -> dict[str, Any]:
    return endpoint_view(_find_endpoint(uow, namespace, endpoint_id))


def list_endpoints(uow: UnitOfWork, namespace: str, page: Page) -> dict[str, Any]:
    q = select(webhook_endpoints).where(
        webhook_endpoints.c.namespace == namespace, webhook_endpoints.c.deleted_at.is_(None)
    )
    return paginate(uow, q.order_by(webhook_endpoints.c.id), page, endpoint_view)


def endpoint_health(uow: UnitOfWork, endpoint_id: str) -> dict[str, Any]:
    """Success rate of the endpoint's attempts, and its last failure."""
    rows = uow.conn.execute(
        select(webhook_attempts.c.status_code, webhook_attempts.c.error, webhook_attempts.c.attempted_at)
        .join(webhook_deliveries, webhook_deliveries.c.id == webhook_attempts.c.delivery_id)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_attempts.c.attempted_at)
    ).all()
    ok = [r for r in rows if r.status_code is not None and 200 <= r.status_code < 300]
    failures = [r for r in rows if not (r.status_code is not None and 200 <= r.status_code < 300)]
    last = failures[-1] if failures else None
    return {
        "attempts": len(rows),
        "successRate": round(100 * len(ok) / len(rows)) if rows else None,
        "lastFailureAt": iso(last.attempted_at) if last else None,
        "lastFailure": (f"HTTP {last.status_code}" if last.status_code else last.error) if last else None,
    }


# ---------------------------------------------------------------------------------------- deliveries


def _attempts(uow: UnitOfWork, delivery_id: str) -> list[dict[str, Any]]:
    rows = uow.conn.execute(
        select(webhook_attempts).where(webhook_attempts.c.delivery_id == delivery_id).order_by(webhook_attempts.c.seq)
    )
    return [
        {
            "at": iso(r.attempted_at),
            "wallTime": iso(r.wall_time),
            "statusCode": r.status_code,
            "latencyMs": r.latency_ms,
            "responseExcerpt": r.response_excerpt,
            "error": r.error,
            "trigger": r.trigger,
        }
        for r in rows
    ]


def delivery_view(uow: UnitOfWork, row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "endpointId": row.endpoint_id,
        "eventId": row.event_id,
        "eventType": row.event_type,
        "subjectId": row.subject_id,
        "status": row.status,
        "attemptCount": row.attempts,
        "nextAttemptAt": iso(row.next_attempt_at),
        "lastAttemptAt": iso(row.last_attempt_at),
        "succeededAt": iso(row.succeeded_at),
        "failedAt": iso(row.failed_at),
        "createdAt": iso(row.created_at),
        "attempts": _attempts(uow, row.id),
    }


def _find_delivery(uow: UnitOfWork, namespace: str, delivery_id: str) -> Row[Any]:
    row = uow.conn.execute(
        select(webhook_deliveries).where(
            webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.namespace == namespace
        )
    ).first()
    if row is None:
        raise NotFound(f"webhook delivery {delivery_id!r} not found")
    return row


def get_delivery(uow: UnitOfWork, namespace: str, delivery_id: str) -> dict[str, Any]:
    return delivery_view(uow, _find_delivery(uow, namespace, delivery_id))


def list_deliveries(
    uow: UnitOfWork,
    namespace: str,
    page: Page,
    *,
    endpoint_id: str | None = None,
    event_type: str | None = None,
    status: str | None = None,
    subject_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    q = select(webhook_deliveries).where(webhook_deliveries.c.namespace == namespace)
    for column, value in (
        (webhook_deliveries.c.endpoint_id, endpoint_id),
        (webhook_deliveries.c.event_type, event_type),
        (webhook_deliveries.c.status, status),
        (webhook_deliveries.c.subject_id, subject_id),
        (webhook_deliveries.c.event_id, event_id),
    ):
        if value is not None:
            q = q.where(column == value)
    return paginate(uow, q.order_by(webhook_deliveries.c.id.desc()), page, lambda r: delivery_view(uow, r))


def redeliver(uow: UnitOfWork, actor: Actor, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again now, whether it failed or not (same webhook-id)."""
    row = _find_delivery(uow, actor.namespace, delivery_id)
    _find_endpoint(uow, actor.namespace, row.endpoint_id)
    uow.conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == row.id)
        .values(
            status="pending",
            next_attempt_at=uow.now,
            failed_at=None,
            updated_at=uow.now,
            lease_owner=None,
            lease_until=None,
        )
    )
    return delivery_view(uow, _find_delivery(uow, actor.namespace, row.id))


# ---------------------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Request:
    delivery_id: str
    namespace: str
    url: str | None  # None: the endpoint was disabled or deleted meanwhile
    body: str
    headers: dict[str, str]


def prepare(uow: UnitOfWork, delivery_ids: Sequence[str], owner: str) -> list[Request]:
    """What to send for claimed deliveries (three statements for all of them), leaving out those no
    longer ours; a delivery whose endpoint is gone meanwhile gets a request with no URL."""
    rows = uow.conn.execute(
        select(webhook_deliveries)
        .where(among(uow.conn, webhook_deliveries.c.id, delivery_ids), webhook_deliveries.c.lease_owner == owner)
        .where(webhook_deliveries.c.status == "pending")
        .order_by(webhook_deliveries.c.id)
    ).all()
    if not rows:
        return []
    endpoints = {
        r.id: r
        for r in uow.conn.execute(
            select(webhook_endpoints).where(among(uow.conn, webhook_endpoints.c.id, {r.endpoint_id for r in rows}))
        )
    }
    # each payload as the JSON text it is stored as: it goes into the body as it is, not parsed and dumped again
    payload = select(events.c.id, events.c.type, events.c.occurred_at, cast(events.c.data, Text).label("data"))
    by_id = {r.id: r for r in uow.conn.execute(payload.where(among(uow.conn, events.c.id, {r.event_id for r in rows})))}
    now = wall_now()
    out = []
    for row in rows:
        endpoint, event = endpoints[row.endpoint_id], by_id[row.event_id]
        head = json_text({"id": event.id, "type": event.type, "timestamp": iso(event.occurred_at)})
        body = f'{head[:-1]},"data":{event.data}}}'
        secrets = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > now
        ):
            secrets.append(endpoint.previous_secret)
        headers = signing.headers(event.id, now, body, secrets)
        url = None if endpoint.disabled or endpoint.deleted_at is not None else endpoint.url
        out.append(Request(row.id, row.namespace, url, body, headers))
    return out


def record_many(
    uow: UnitOfWork,
    actor_for: Callable[[str], Actor],
    outcomes: Sequence[tuple[str, transport.Outcome]],
    *,
    owner: str | None = None,
    trigger: str = "schedule",
) -> None:
    """Store each delivery's attempt and decide what comes next: done, retry later, or give up; then
    release the invoices their billable deliveries held. A handful of statements for the lot.

    A sender whose lease ran out meanwhile (another worker took the delivery over) still records
    its attempt, which did happen, but leaves the delivery's state to the new holder.
    """
    by_id = {
        r.id: r
        for r in uow.conn.execute(
            select(webhook_deliveries)
            .where(among(uow.conn, webhook_deliveries.c.id, [d for d, _ in outcomes]))
            .order_by(webhook_deliveries.c.id)
            .with_for_update()
        )
    }
    changes: dict[frozenset[str], list[dict[str, Any]]] = {}  # one executemany per set of columns
    settled_billable: list[str] = []  # the invoices their billable deliveries hold
    for delivery_id, outcome in outcomes:
        row = by_id[delivery_id]
        values = _after_attempt(uow, row, outcome, owner, trigger)
        changes.setdefault(frozenset(values), []).append(values | {"_id": row.id})
        if row.event_type == BILLABLE and row.subject_id is not None and "status" in values:
            settled_billable.append(row.subject_id)
    for rows in changes.values():
        uow.conn.execute(_UPDATE_DELIVERY, rows)
    if settled_billable:
        after_billable(uow, actor_for, settled_billable)


_UPDATE_DELIVERY = update(webhook_deliveries).where(webhook_deliveries.c.id == bindparam("_id"))


def _after_attempt(
    uow: UnitOfWork, row: Row[Any], outcome: transport.Outcome, owner: str | None, trigger: str
) -> dict[str, Any]:
    """Append the attempt; the delivery's new column values."""
    attempts = row.attempts + 1
    attempt = {
        "id": new_id(),
        "namespace": row.namespace,
        "delivery_id": row.id,
        "seq": attempts,
        "attempted_at": uow.now,
        "wall_time": wall_now(),
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "response_excerpt": outcome.excerpt,
        "error": outcome.error,
        "trigger": trigger,
    }
    uow.append(webhook_attempts, [attempt])
    if owner is not None and row.lease_owner != owner:
        return {"attempts": attempts}
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": uow.now,
        "updated_at": uow.now,
        "lease_owner": None,
        "lease_until": None,
        "next_attempt_at": None,
    }
    if outcome.succeeded:
        values |= {"status": "succeeded", "succeeded_at": uow.now}
    elif outcome.gone or outcome.error == ENDPOINT_GONE:
        values |= {"status": "failed", "failed_at": uow.now}
        if outcome.gone:
            uow.conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == row.endpoint_id)
                .values(disabled=True, disabled_reason="the endpoint answered 410 Gone", updated_at=uow.now)
            )
    else:
        delay = transport.next_delay(attempts, outcome.retry_after)
        if delay is None:
            values |= {"status": "failed", "failed_at": uow.now}
        else:
            values |= {"status": "pending", "next_attempt_at": uow.now + delay}
    return values


ENDPOINT_GONE = "the endpoint is disabled or deleted"


def after_billable(uow: UnitOfWork, actor_for: Callable[[str], Actor], invoice_ids: Sequence[str]) -> None:
    """Billable deliveries of these invoices settled: release each held invoice whose grace is over, or
    mark it failed. The invoices are read, locked and looked into together."""
    ids = list(dict.fromkeys(invoice_ids))
    held = uow.conn.execute(
        select(invoices_t.c.customer_id).where(
            among(uow.conn, invoices_t.c.id, ids), invoices_t.c.extended_status == S.DRAFT_OUTSTANDING.value
        )
    ).scalars()
    customer_ids = set(held)
    if not customer_ids:
        return
    uow.lock_customers(customer_ids)
    rows = [
        inv
        for inv in uow.conn.execute(
            select(invoices_t)
            .where(among(uow.conn, invoices_t.c.id, ids))
            .order_by(invoices_t.c.period_start, invoices_t.c.id)  # a subscription's held invoices run in order
        )
        if inv.extended_status == S.DRAFT_OUTSTANDING  # again, under the locks
    ]
    if not rows:
        return
    held_ids = [inv.id for inv in rows]
    billable.prefetch(uow, held_ids)
    billable.prefetch_waiting(uow, {inv.subscription_id for inv in rows if inv.subscription_id is not None})
    invoices.prefetch_lines(uow, held_ids)
    invoices.prefetch_customers(uow, customer_ids)
    if len(rows) > 1:  # numbers and writes at the commit (a failure is redone one delivery at a time, without)
        numbering.defer(uow)
        uow.write_behind = True
    for inv in rows:
        _release(uow, actor_for(inv.namespace), inv)


def _release(uow: UnitOfWork, actor: Actor, inv: Row[Any]) -> None:
    h = billable.hold(uow, inv)
    before = inv.validation_issues
    issues = [i for i in before if i.get("code") != billable.FAILED_ISSUE]
    if h.failed and not h.released and h.pending == 0 and h.release_at is None:  # held until someone acts
        issues.append(
            {
                "id": new_id(),
                "code": billable.FAILED_ISSUE,
                "severity": "critical",
                "component": "billhook.webhooks",
                "message": f"{h.failed} subscription.billable delivery(ies) failed every attempt; "
                "redeliver, or run the invoice by hand",
                "field": None,
                "createdAt": iso(uow.now),
                "updatedAt": iso(uow.now),
            }
        )
    changes = {"validation_issues": issues} if issues != before else None
    lifecycle.advance(uow, actor, inv, changes=changes, hold=h)


# ---------------------------------------------------------------------------------------- events


def event_view(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "subjectId": row.subject_id,
        "timestamp": iso(row.occurred_at),
        "data": row.data,
    }


def list_events(
    uow: UnitOfWork, namespace: str, page: Page, *, type_: str | None = None, subject_id: str | None = None
) -> dict[str, Any]:
    q = select(events).where(events.c.namespace == namespace)
    if type_ is not None:
        if type_ not in CATALOG:
            raise InvalidInput.on("type", f"unknown event type {type_!r}")
        q = q.where(events.c.type == type_)
    if subject_id is not None:
        q = q.where(events.c.subject_id == subject_id)
    return paginate(uow, q.order_by(events.c.id.desc()), page, event_view)
