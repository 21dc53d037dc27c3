"""Custom charges and credits (Cheddar's chargeCode) on the current or a held invoice: add, edit,
delete, list."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from billhook.domain.lifecycle import S
from billhook.domain.money import minor_units, money_str
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.ids import new_id
from billhook.services import invoices, periods, subscriptions
from billhook.services.common import Actor, decimal_field, iso
from billhook.store.schema import custom_charges
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

MAX_QUANTITY = 1_000_000


def view(row: Row[Any], inv: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "subscriptionId": row.subscription_id,
        "invoiceId": row.invoice_id,
        "invoicePeriod": periods.period_name(inv),
        "chargeCode": row.charge_code,
        "quantity": row.quantity,
        "eachAmount": money_str(row.each_amount, inv.currency),
        "amount": money_str(row.each_amount * row.quantity, inv.currency),
        "description": row.description,
        "createdAt": iso(row.created_at),
    }


def _quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_QUANTITY:
        raise InvalidInput.on("quantity", f"must be a whole number from 1 to {MAX_QUANTITY}")
    return value


def _each(value: object, currency: str) -> Any:
    each = decimal_field(value, "eachAmount", max_places=minor_units(currency), allow_negative=True)
    if each == 0:
        raise InvalidInput.on("eachAmount", "must not be zero (negative for a credit)")
    return each


def add(
    uow: UnitOfWork,
    actor: Actor,
    subscription_id: str,
    data: dict[str, Any],
    address: periods.Address = periods.Address(),
) -> dict[str, Any]:
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    inv = periods.target(uow, sub, address)
    quantity = _quantity(data.get("quantity", 1))
    each = _each(data["eachAmount"], inv.currency)
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
    return view(_load(uow, charge_id), invoices.load(uow, inv.id))


def _load(uow: UnitOfWork, charge_id: str) -> Row[Any]:
    return uow.conn.execute(select(custom_charges).where(custom_charges.c.id == charge_id)).one()


def _editable(
    uow: UnitOfWork, actor: Actor, subscription_id: str, charge_id: str, address: periods.Address | None
) -> tuple[Row[Any], Row[Any]]:
    """The subscription (locked) and the charge's invoice, which must still take edits, and be the
    invoice the request names when it names one."""
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    row = uow.conn.execute(
        select(custom_charges).where(custom_charges.c.id == charge_id, custom_charges.c.subscription_id == sub.id)
    ).first()
    if row is None:
        raise NotFound(f"custom charge {charge_id!r} not found")
    inv = invoices.load(uow, row.invoice_id)
    periods.editable(inv)
    if address is not None:
        named = periods.target(uow, sub, address)
        if named.id != inv.id:
            raise Conflict(
                f"custom charge {charge_id} is on invoice {inv.id} ({periods.period_name(inv)}), "
                f"not on the {address.period} invoice {named.id}",
                code="charge-not-on-invoice",
            )
    return sub, inv


def edit(
    uow: UnitOfWork,
    actor: Actor,
    subscription_id: str,
    charge_id: str,
    data: dict[str, Any],
    address: periods.Address | None = None,
) -> dict[str, Any]:
    """Change a charge's description, quantity or amount (what is not given stays)."""
    sub, inv = _editable(uow, actor, subscription_id, charge_id, address)
    values: dict[str, Any] = {}
    if data.get("quantity") is not None:
        values["quantity"] = _quantity(data["quantity"])
    if data.get("eachAmount") is not None:
        values["each_amount"] = _each(data["eachAmount"], inv.currency)
    if "description" in data:
        values["description"] = data["description"]
    if not values:
        raise InvalidInput.on("quantity", "give at least one of quantity, eachAmount, description")
    uow.conn.execute(update(custom_charges).where(custom_charges.c.id == charge_id).values(values))
    periods.after_edit(uow, actor, sub, inv)
    return view(_load(uow, charge_id), invoices.load(uow, inv.id))


def remove(
    uow: UnitOfWork, actor: Actor, subscription_id: str, charge_id: str, address: periods.Address | None = None
) -> None:
    sub, inv = _editable(uow, actor, subscription_id, charge_id, address)
    uow.conn.execute(delete(custom_charges).where(custom_charges.c.id == charge_id))
    periods.after_edit(uow, actor, sub, inv)


def list_(
    uow: UnitOfWork, namespace: str, subscription_id: str, address: periods.Address | None = None
) -> dict[str, Any]:
    """The subscription's charges; with an address, only those on the invoices it names: the current
    period's, every held invoice's (``outstanding``), or one held invoice's (``invoiceId``)."""
    sub = subscriptions.find(uow, namespace, subscription_id)
    inv_cols = (invoices_t.c.kind, invoices_t.c.extended_status, invoices_t.c.currency)
    q = (
        select(custom_charges, *(c.label(f"invoice_{c.name}") for c in inv_cols))
        .join(invoices_t, invoices_t.c.id == custom_charges.c.invoice_id)
        .where(custom_charges.c.subscription_id == sub.id)
        .order_by(custom_charges.c.id)
    )
    if address is not None and address.invoice_id is not None:
        q = q.where(invoices_t.c.id == periods.held_invoice(uow, sub, address.invoice_id).id)
    elif address is not None and address.period == "outstanding":
        q = q.where(invoices_t.c.kind == "period", invoices_t.c.extended_status.in_(periods.HELD_STATES))
    elif address is not None:
        q = q.where(invoices_t.c.extended_status == S.GATHERING.value)
    items = []
    for r in uow.conn.execute(q):
        inv = SimpleNamespace(
            kind=r.invoice_kind, extended_status=r.invoice_extended_status, currency=r.invoice_currency
        )
        items.append(view(r, inv))
    return {"items": items}
