"""Custom charges and credits on the current or the outstanding invoice (Cheddar's chargeCode)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select

from billhook.domain.money import minor_units, money_str
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.ids import new_id
from billhook.services import invoices, periods, subscriptions
from billhook.services.common import Actor, decimal_field, iso
from billhook.store.schema import custom_charges
from billhook.store.uow import UnitOfWork

MAX_QUANTITY = 1_000_000


def view(row: Row[Any], inv: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "subscriptionId": row.subscription_id,
        "invoiceId": row.invoice_id,
        "invoicePeriod": "current" if inv.extended_status == "gathering" else "outstanding",
        "chargeCode": row.charge_code,
        "quantity": row.quantity,
        "eachAmount": money_str(row.each_amount, inv.currency),
        "amount": money_str(row.each_amount * row.quantity, inv.currency),
        "description": row.description,
        "createdAt": iso(row.created_at),
    }


def add(uow: UnitOfWork, actor: Actor, subscription_id: str, data: dict[str, Any]) -> dict[str, Any]:
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    inv = periods.target(uow, sub, data.get("invoicePeriod") or "current")
    quantity = data.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
        raise InvalidInput.on("quantity", f"must be a whole number from 1 to {MAX_QUANTITY}")
    each = decimal_field(data["eachAmount"], "eachAmount", max_places=minor_units(inv.currency), allow_negative=True)
    if each == 0:
        raise InvalidInput.on("eachAmount", "must not be zero (negative for a credit)")
    charge_id = new_id()
    uow.conn.execute(
        insert(custom_charges).values(
            id=charge_id,
            namespace=sub.namespace,
            subscription_id=sub.id,
            invoice_id=inv.id,
            charge_code=data["chargeCode"],
            quantity=quantity,
            each_amount=each,
            description=data.get("description"),
            created_at=uow.now,
        )
    )
    periods.after_edit(uow, actor, sub, inv)
    row = uow.conn.execute(select(custom_charges).where(custom_charges.c.id == charge_id)).one()
    return view(row, invoices.load(uow, inv.id))


def remove(uow: UnitOfWork, actor: Actor, subscription_id: str, charge_id: str) -> None:
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    row = uow.conn.execute(
        select(custom_charges).where(custom_charges.c.id == charge_id, custom_charges.c.subscription_id == sub.id)
    ).first()
    if row is None:
        raise NotFound(f"custom charge {charge_id!r} not found")
    inv = invoices.load(uow, row.invoice_id)
    if inv.extended_status != "gathering":
        outstanding = periods.outstanding(uow, sub)
        if outstanding is None or outstanding.id != inv.id:
            raise Conflict(
                f"the charge's invoice is {inv.extended_status} and can no longer change", code="invoice-immutable"
            )
    uow.conn.execute(delete(custom_charges).where(custom_charges.c.id == charge_id))
    periods.after_edit(uow, actor, sub, inv)


def list_(uow: UnitOfWork, namespace: str, subscription_id: str, period: str | None = None) -> dict[str, Any]:
    sub = subscriptions.find(uow, namespace, subscription_id)
    rows = uow.conn.execute(
        select(custom_charges).where(custom_charges.c.subscription_id == sub.id).order_by(custom_charges.c.id)
    ).all()
    by_invoice: dict[str, Row[Any]] = {}
    items = []
    for r in rows:
        inv = by_invoice.get(r.invoice_id) or invoices.load(uow, r.invoice_id)
        by_invoice[r.invoice_id] = inv
        v = view(r, inv)
        if period is None or v["invoicePeriod"] == period:
            items.append(v)
    return {"items": items}
