"""Tracked item quantities: Set / Add / Remove, on the current or the outstanding invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Row, bindparam, delete, select

from billhook.domain.money import QUANTITY_PLACES, ZERO, fmt
from billhook.errors import Conflict, NotFound
from billhook.services import billing, periods, subscriptions
from billhook.services.common import Actor, decimal_field, iso
from billhook.store.schema import item_quantities
from billhook.store.sql import upsert
from billhook.store.uow import UnitOfWork

Op = Literal["set", "add", "remove"]


def _quantity(uow: UnitOfWork, invoice_id: str, key: str) -> Decimal:
    q = uow.conn.execute(
        select(item_quantities.c.quantity).where(
            item_quantities.c.invoice_id == invoice_id, item_quantities.c.item_key == key
        )
    ).scalar()
    return ZERO if q is None else q


def _item_view(key: str, inv: Row[Any], quantity: Decimal, period: str) -> dict[str, Any]:
    return {
        "itemKey": key,
        "quantity": fmt(quantity),
        "invoicePeriod": period,
        "invoiceId": inv.id,
        "period": {"from": iso(inv.period_start), "to": iso(inv.period_end)},
    }


def change(
    uow: UnitOfWork,
    actor: Actor,
    subscription_id: str,
    item_key: str,
    op: Op,
    raw_quantity: object,
    period: periods.InvoicePeriod = "current",
) -> dict[str, Any]:
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    rules = billing.plan_rules(uow, sub)
    if rules.item(item_key) is None:
        raise NotFound(f"the plan has no tracked item {item_key!r}")
    amount = decimal_field(raw_quantity, "quantity", max_places=QUANTITY_PLACES)
    inv = periods.target(uow, sub, period)
    if op == "set":
        new = amount  # never negative (decimal_field refuses it)
    else:
        old = _quantity(uow, inv.id, item_key)
        new = old + amount if op == "add" else old - amount
        if new < 0:
            raise Conflict(
                f"removing {fmt(amount)} from {fmt(old)} would take {item_key} below zero",
                code="quantity_below_zero",
            )
    new = new.normalize() if new != 0 else ZERO  # 10.1235 - 0.1235 is "10", as if set so
    if new > Decimal("1e15"):
        raise Conflict(f"{item_key} would exceed the largest quantity billhook keeps", code="quantity_too_large")
    _store(uow, sub.namespace, inv.id, item_key, new)
    periods.after_edit(uow, actor, sub, inv)
    return _item_view(item_key, inv, new, period)


_DELETE = delete(item_quantities).where(
    (item_quantities.c.invoice_id == bindparam("invoice_id")) & (item_quantities.c.item_key == bindparam("key"))
)


def _store(uow: UnitOfWork, namespace: str, invoice_id: str, key: str, quantity: Decimal) -> None:
    if quantity == 0:
        uow.conn.execute(_DELETE, {"invoice_id": invoice_id, "key": key})
        return
    row = {
        "invoice_id": invoice_id,
        "item_key": key,
        "namespace": namespace,
        "quantity": quantity,
        "updated_at": uow.now,
    }
    upsert(uow.conn, item_quantities, row, ("invoice_id", "item_key"))


def list_(uow: UnitOfWork, namespace: str, subscription_id: str) -> dict[str, Any]:
    sub = subscriptions.find(uow, namespace, subscription_id)
    rules = billing.plan_rules(uow, sub)
    current = billing.gathering_invoice(uow, sub) if sub.status != "ended" else None
    outstanding = periods.outstanding(uow, sub)
    cur_q = billing.quantities(uow, current.id) if current is not None else {}
    out_q = billing.quantities(uow, outstanding.id) if outstanding is not None else {}
    return {
        "items": [
            {
                "key": item.key,
                "name": item.name,
                "usageType": item.usage_type,
                "includedQuantity": fmt(item.included),
                "current": _item_view(item.key, current, cur_q.get(item.key, ZERO), "current") if current else None,
                "outstanding": (
                    _item_view(item.key, outstanding, out_q.get(item.key, ZERO), "outstanding")
                    if outstanding is not None
                    else None
                ),
            }
            for item in rules.items
        ]
    }
