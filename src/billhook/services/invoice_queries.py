"""Reading invoices, and the lifecycle actions the API offers on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Select, select

from billhook.domain.lifecycle import S, T
from billhook.errors import Conflict, InvalidInput
from billhook.services import billing, customers, invoices, lifecycle
from billhook.services.common import Actor, Page, paginate
from billhook.store.schema import customers as customers_t
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
    period_start_after: datetime | None = None,
    period_start_before: datetime | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    include_deleted: bool = False,
    subscription: str | None = None,
    period: str | None = None,
    expand_lines: bool = False,
    order_by: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """One page of invoices, filtered as OpenMeter's list does: ``…After`` bounds are inclusive,
    ``…Before`` ones exclusive; deleted invoices only when asked for (``include_deleted``, or by
    their status). Newest first unless ``order_by``/``order`` say otherwise."""
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
    if not include_deleted and S.DELETED.value not in extended_statuses and "deleted" not in statuses:
        q = q.where(invoices_t.c.extended_status != S.DELETED.value)
    if customers_:
        ids = [customers.find(uow, namespace, c, field="customers").id for c in customers_]
        q = q.where(invoices_t.c.customer_id.in_(ids))
    if subscription:
        q = q.where(invoices_t.c.subscription_id == subscription)
    if period:
        start = _month(period)
        q = q.where(invoices_t.c.period_start >= start, invoices_t.c.period_start < start + relativedelta(months=1))
    for column, after, before in (
        (invoices_t.c.issued_at, issued_after, issued_before),
        (invoices_t.c.period_start, period_start_after, period_start_before),
        (invoices_t.c.created_at, created_after, created_before),
    ):
        if after:
            q = q.where(column >= after)
        if before:
            q = q.where(column < before)

    def view(inv: Any) -> dict[str, Any]:
        v = billing.invoice_view(uow, inv)
        if not expand_lines:
            v.pop("lines")
        return v

    return paginate(uow, _ordered(q, order_by, order), page, view)


ORDER_BY = {
    "createdAt": invoices_t.c.created_at,
    "updatedAt": invoices_t.c.updated_at,
    "issuedAt": invoices_t.c.issued_at,
    "periodStart": invoices_t.c.period_start,
    "status": invoices_t.c.status,
    "customer.name": customers_t.c.name,
}
ORDERS = ("ASC", "DESC")


def _ordered(q: Select[Any], order_by: str | None, order: str | None) -> Select[Any]:
    """Sorted by ``order_by`` (``createdAt`` by default) in ``order`` (ascending when a key is named,
    newest first when neither is), ties broken by id the same way; invoices without a value (not
    yet issued, say) last either way, on both databases."""
    if order_by is not None and order_by not in ORDER_BY:
        raise InvalidInput.on("orderBy", f"one of {', '.join(ORDER_BY)}")
    if order is not None and order not in ORDERS:
        raise InvalidInput.on("order", "ASC or DESC")
    descending = order == "DESC" if order is not None else order_by is None
    column = ORDER_BY[order_by or "createdAt"]
    if column.table is customers_t:
        q = q.join(customers_t, customers_t.c.id == invoices_t.c.customer_id)
    keys = (column, invoices_t.c.id)
    return q.order_by(*((k.desc() if descending else k.asc()).nulls_last() for k in keys))


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
