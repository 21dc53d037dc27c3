"""The Custom Invoicing app's three calls: draft sync results, issuing sync results, payment status.

Each is accepted only where the lifecycle table allows it, changes nothing when refused, and is
idempotent: the same sync result submitted again (after the invoice moved on) is not an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from billhook.domain.lifecycle import S, T
from billhook.errors import Conflict, InvalidInput
from billhook.services import apps, invoices, lifecycle, numbering
from billhook.services.common import Actor, iso, utc_field
from billhook.store.schema import invoice_lines, invoice_transitions
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

PAYMENT_TRIGGERS = {
    "paid": T.PAID,
    "payment_failed": T.PAYMENT_FAILED,
    "payment_uncollectible": T.PAYMENT_UNCOLLECTIBLE,
    "payment_overdue": T.PAYMENT_OVERDUE,
    "action_required": T.ACTION_REQUIRED,
    "void": T.VOID,
}


def _managed(uow: UnitOfWork, actor: Actor, invoice_id: str) -> Row[Any]:
    """The invoice, re-read under its customer's lock, if the custom invoicing app manages it."""
    inv = invoices.find(uow, actor.namespace, invoice_id)
    uow.lock_customer(inv.customer_id)
    inv = invoices.load(uow, invoice_id)
    app = apps.load(uow, inv.invoicing_app_id)
    if app is None or app.type != apps.CUSTOM_INVOICING:
        kind = app.type if app is not None else "no"
        raise Conflict(f"the invoice is managed by the {kind} app, not by custom invoicing", code="app_mismatch")
    return inv


def _number_free(uow: UnitOfWork, inv: Row[Any], number: str, field: str) -> None:
    if number.startswith("DRAFT-"):
        raise InvalidInput.on(field, "the DRAFT- prefix is reserved for draft numbers")
    if numbering.RESERVED.fullmatch(number):
        raise InvalidInput.on(
            field, "numbers like INV-000001 (and NUMBERING- placeholders) are reserved for billhook's own sequence"
        )
    taken = uow.conn.execute(
        select(invoices_t.c.id).where(
            invoices_t.c.namespace == inv.namespace, invoices_t.c.number == number, invoices_t.c.id != inv.id
        )
    ).first()
    if taken is not None:
        raise InvalidInput.on(field, f"invoice number {number!r} is already used by invoice {taken.id}")


def _refuse(inv: Row[Any], expected: S) -> Conflict:
    return Conflict(
        f"accepted only while the invoice is {expected.value}; it is {inv.extended_status}", code="invalid_transition"
    )


def draft_synchronized(uow: UnitOfWork, actor: Actor, invoice_id: str, data: dict[str, Any]) -> None:
    inv = _managed(uow, actor, invoice_id)
    result = data.get("invoicing") or {}
    if inv.extended_status != S.DRAFT_SYNCING:
        if inv.draft_sync is not None and inv.draft_sync == result:
            return  # the same results again: already applied
        raise _refuse(inv, S.DRAFT_SYNCING)
    lines = {r.id for r in invoices.stored_lines(uow, inv.id)}
    line_ids = result.get("lineExternalIds") or []
    for i, entry in enumerate(line_ids):
        if entry["lineId"] not in lines:
            message = f"{entry['lineId']!r} is not a line of this invoice"
            raise InvalidInput.on(f"invoicing.lineExternalIds[{i}].lineId", message)
    for i, entry in enumerate(result.get("lineDiscountExternalIds") or []):
        raise InvalidInput.on(
            f"invoicing.lineDiscountExternalIds[{i}].lineDiscountId",
            f"{entry['lineDiscountId']!r} is not a discount on this invoice",
        )
    values: dict[str, Any] = {"draft_synced_at": uow.now, "draft_sync": result, "updated_at": uow.now}
    if result.get("invoiceNumber"):
        _number_free(uow, inv, result["invoiceNumber"], "invoicing.invoiceNumber")
        values["number"] = result["invoiceNumber"]
    if result.get("externalId") is not None:
        values["external_invoicing_id"] = result["externalId"]
    uow.conn.execute(update(invoices_t).where(invoices_t.c.id == inv.id).values(values))
    for entry in line_ids:
        uow.conn.execute(
            update(invoice_lines)
            .where(invoice_lines.c.id == entry["lineId"])
            .values(external_invoicing_id=entry["externalId"], updated_at=uow.now)
        )
    lifecycle.fire_loaded(uow, actor, invoices.load(uow, inv.id), T.DRAFT_SYNCED)


def issuing_synchronized(uow: UnitOfWork, actor: Actor, invoice_id: str, data: dict[str, Any]) -> None:
    inv = _managed(uow, actor, invoice_id)
    result = {"invoicing": data.get("invoicing") or {}, "payment": data.get("payment") or {}}
    sent_at = result["invoicing"].get("sentToCustomerAt")
    if isinstance(sent_at, datetime):
        sent_at = utc_field(sent_at, "invoicing.sentToCustomerAt")
        result["invoicing"]["sentToCustomerAt"] = iso(sent_at)
    if inv.extended_status != S.ISSUING_SYNCING:
        if inv.issuing_sync is not None and inv.issuing_sync == result:
            return
        raise _refuse(inv, S.ISSUING_SYNCING)
    values: dict[str, Any] = {"issuing_sync": result, "updated_at": uow.now}
    number = result["invoicing"].get("invoiceNumber")
    if number:
        _number_free(uow, inv, number, "invoicing.invoiceNumber")
        values["number"] = number
    if sent_at is not None:
        values["sent_to_customer_at"] = sent_at
    if result["payment"].get("externalId") is not None:
        values["external_payment_id"] = result["payment"]["externalId"]
    uow.conn.execute(update(invoices_t).where(invoices_t.c.id == inv.id).values(values))
    lifecycle.fire_loaded(uow, actor, invoices.load(uow, inv.id), T.ISSUING_SYNCED)


def payment_status(uow: UnitOfWork, actor: Actor, invoice_id: str, trigger_name: str) -> None:
    inv = _managed(uow, actor, invoice_id)
    trigger = PAYMENT_TRIGGERS[trigger_name]
    if _just_applied(uow, inv, trigger):
        return  # the same status reported again
    lifecycle.fire_loaded(uow, actor, inv, trigger)


def _just_applied(uow: UnitOfWork, inv: Row[Any], trigger: T) -> bool:
    """The invoice's latest transition was this very trigger and it still sits where that took it."""
    last = uow.conn.execute(
        select(invoice_transitions.c.trigger, invoice_transitions.c.to_status)
        .where(invoice_transitions.c.invoice_id == inv.id)
        .order_by(invoice_transitions.c.seq.desc())
        .limit(1)
    ).first()
    return last is not None and last.trigger == trigger.value and last.to_status == inv.extended_status
