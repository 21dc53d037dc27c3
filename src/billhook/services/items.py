"""Tracked item quantities: Set / Add / Remove, on the current or the outstanding invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Row, bindparam, delete, select

from billhook.domain.lifecycle import S
from billhook.domain.money import QUANTITY_PLACES, ZERO, fmt
from billhook.errors import Conflict, NotFound
from billhook.services import billing, periods, subscriptions
from billhook.services.common import Actor, decimal_field
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


def _item_view(key: str, inv: Any, quantity: Decimal) -> dict[str, Any]:
    return {"itemKey": key, "quantity": fmt(quantity)} | periods.view_of(inv)


def change(
    uow: UnitOfWork,
    actor: Actor,
    subscription_id: str,
    item_key: str,
    op: Op,
    raw_quantity: object,
    address: periods.Address = periods.Address(),
) -> dict[str, Any]:
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    rules = billing.plan_rules(uow, sub)
    item = rules.item(item_key)
    if item is None:
        raise NotFound(f"the plan has no tracked item {item_key!r}")
    amount = decimal_field(raw_quantity, "quantity", max_places=QUANTITY_PLACES)
    inv = periods.target(uow, sub, address)
    carries = item.usage_type == "licensed" and inv.extended_status != S.GATHERING
    old = _quantity(uow, inv.id, item_key) if op != "set" or carries else ZERO
    if op == "set":
        new = amount  # never negative (decimal_field refuses it)
    else:
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
    view = _item_view(item_key, inv, new)
    if carries and new != old:
        view["carriedTo"] = _carry_forward(uow, actor, sub, inv, item_key, old, new)
    return view


def _carry_forward(
    uow: UnitOfWork, actor: Actor, sub: Row[Any], inv: Row[Any], key: str, old: Decimal, new: Decimal
) -> list[str]:
    """A licensed item's quantity corrected on a held invoice goes on into the later periods that still
    have the quantity they took over from it (it was carried at each close), up to the current one: the
    correction says what the quantity was from then on. It stops at the first period whose quantity was
    changed since (that change says what it was from then on) and at an invoice that no longer takes
    edits (issued: its figures stay as they were billed). Returns the invoices it changed."""
    carried = []
    for nxt in periods.later(uow, sub, inv):
        if nxt.extended_status != S.GATHERING and not periods.is_held(nxt):
            break
        if _quantity(uow, nxt.id, key) != old:
            break
        _store(uow, sub.namespace, nxt.id, key, new)
        periods.after_edit(uow, actor, sub, nxt)
        carried.append(nxt.id)
    return carried


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
    held = periods.held(uow, sub)
    cur_q = billing.quantities(uow, current.id) if current is not None else {}
    held_q = {inv.id: billing.quantities(uow, inv.id) for inv in held}

    def held_views(key: str) -> list[dict[str, Any]]:
        return [_item_view(key, inv, held_q[inv.id].get(key, ZERO)) for inv in held]

    return {
        "items": [
            {
                "key": item.key,
                "name": item.name,
                "usageType": item.usage_type,
                "includedQuantity": fmt(item.included),
                "current": _item_view(item.key, current, cur_q.get(item.key, ZERO)) if current else None,
                "outstanding": held_views(item.key)[0] if held else None,
                "held": held_views(item.key),
            }
            for item in rules.items
        ]
    }
