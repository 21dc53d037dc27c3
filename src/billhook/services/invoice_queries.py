"""Reading invoices, and the lifecycle actions the API offers on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from billhook.domain.lifecycle import S, T
from billhook.errors import Conflict, InvalidInput
from billhook.services import billing, customers, invoices, lifecycle
from billhook.services.common import Actor, Page, paginate
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

STATUSES = sorted({s.short for s in S})


def get(uow: UnitOfWork, namespace: str, invoice_id: str) -> dict[str, Any]:
    return billing.invoice_view(uow, invoices.find(uow, namespace, invoice_id))


def history(uow: UnitOfWork, namespace: str, invoice_id: str) -> dict[str, Any]:
    inv = invoices.find(uow, namespace, invoice_id)
    return {"items": invoices.history(uow, inv.id)}


def list_(
    uow: UnitOfWork,
    namespace: str,
    page: Page,
    *,
    customers_: Sequence[str] = (),
    statuses: Sequence[str] = (),
    extended_statuses: Sequence[str] = (),
    issued_after: datetime | None = None,
    issued_before: datetime | None = None,
    subscription: str | None = None,
    period: str | None = None,
    expand_lines: bool = False,
) -> dict[str, Any]:
    q = select(invoices_t).where(invoices_t.c.namespace == namespace)
    for s in statuses:
        if s not in STATUSES:
            raise InvalidInput.on("statuses", f"unknown status {s!r}; one of {', '.join(STATUSES)}")
    for s in extended_statuses:
        if s not in {x.value for x in S}:
            raise InvalidInput.on("extendedStatuses", f"unknown extended status {s!r}")
    if statuses:
        q = q.where(invoices_t.c.status.in_(statuses))
    if extended_statuses:
        q = q.where(invoices_t.c.extended_status.in_(extended_statuses))
    if S.DELETED.value not in extended_statuses and "deleted" not in statuses:
        q = q.where(invoices_t.c.extended_status != S.DELETED.value)
    if customers_:
        ids = [customers.find(uow, namespace, c, field="customers").id for c in customers_]
        q = q.where(invoices_t.c.customer_id.in_(ids))
    if subscription:
        q = q.where(invoices_t.c.subscription_id == subscription)
    if period:
        start = _month(period)
        q = q.where(invoices_t.c.period_start >= start, invoices_t.c.period_start < start + relativedelta(months=1))
    if issued_after:
        q = q.where(invoices_t.c.issued_at >= issued_after)
    if issued_before:
        q = q.where(invoices_t.c.issued_at < issued_before)

    def view(inv: Any) -> dict[str, Any]:
        v = billing.invoice_view(uow, inv)
        if not expand_lines:
            v.pop("lines")
        return v

    return paginate(uow, q.order_by(invoices_t.c.created_at.desc(), invoices_t.c.id.desc()), page, view)


def _month(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput.on("period", "a month as YYYY-MM") from exc


ACTIONS = {"advance": T.ADVANCE, "approve": T.APPROVE, "retry": T.RETRY, "void": T.VOID}


def act(uow: UnitOfWork, actor: Actor, invoice_id: str, action: str) -> dict[str, Any]:
    inv = lifecycle.fire(uow, actor, invoice_id, ACTIONS[action])
    return billing.invoice_view(uow, inv)


def void(uow: UnitOfWork, actor: Actor, invoice_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Void an issued invoice. Its lines are discarded, never re-billed; partial voids are not offered."""
    action = data.get("action")
    if action is not None:
        if action["action"]["type"] != "discard":
            raise InvalidInput.on("action.action.type", "only discard is supported: voided lines are not re-billed")
        if action["percentage"] != 100:
            raise InvalidInput.on("action.percentage", "only a whole void (100) is supported")
    return act(uow, actor, invoice_id, "void")


def delete(uow: UnitOfWork, actor: Actor, invoice_id: str) -> None:
    inv = invoices.find(uow, actor.namespace, invoice_id)
    if inv.extended_status == S.GATHERING:
        raise Conflict(
            "a gathering invoice closes with its period; cancel the subscription instead",
            code="invalid_transition",
        )
    lifecycle.fire(uow, actor, invoice_id, T.DELETE)
