"""Pending lines (one-off charges added through the API) and invoicing them: on their due date, or now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from billhook.domain.invoicing import manual_amount
from billhook.domain.lifecycle import S, T
from billhook.domain.money import QUANTITY_PLACES
from billhook.domain.pricing import PriceError, parse_price
from billhook.errors import Conflict, InvalidInput
from billhook.ids import new_id
from billhook.services import billing, customers, invoices, lifecycle
from billhook.services.common import Actor, currency_field, decimal_field, utc_field
from billhook.store.schema import invoice_lines
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

MAX_LINES = 100


def line_values(raw: dict[str, Any], field: str, currency: str) -> dict[str, Any]:
    """Validate one hand-made line (a pending line, or a line of an updated invoice) into column values."""
    period = raw.get("period") or {}
    start = utc_field(period["from"], f"{field}.period.from")
    end = utc_field(period["to"], f"{field}.period.to")
    if end <= start:
        raise InvalidInput.on(f"{field}.period.to", "must be after period.from")
    invoice_at = utc_field(raw["invoiceAt"], f"{field}.invoiceAt")
    price_raw = raw.get("price") or (raw.get("rateCard") or {}).get("price")
    if price_raw is None:
        raise InvalidInput.on(f"{field}.price", "is required (or rateCard.price)")
    price_field = f"{field}.price" if raw.get("price") else f"{field}.rateCard.price"
    try:
        price = parse_price(price_raw, price_field, allowed=("flat", "unit", "tiered", "package"))
    except PriceError as exc:
        raise InvalidInput.on(exc.field, exc.message) from exc
    quantity = decimal_field(raw.get("quantity", "1"), f"{field}.quantity", max_places=QUANTITY_PLACES)
    feature = raw.get("featureKey") or (raw.get("rateCard") or {}).get("featureKey")
    return {
        "kind": "manual",
        "managed_by": "manual",
        "key": feature or raw["name"],
        "name": raw["name"],
        "description": raw.get("description"),
        "metadata": raw.get("metadata"),
        "period_start": start,
        "period_end": end,
        "invoice_at": invoice_at,
        "price": price.to_wire(),
        "quantity": quantity,
        "included": Decimal(0),
        "amount": manual_amount(price, quantity, currency),
    }


def _gathering(uow: UnitOfWork, customer_id: str, currency: str) -> Row[Any] | None:
    return uow.conn.execute(
        select(invoices_t).where(
            invoices_t.c.customer_id == customer_id,
            invoices_t.c.kind == "manual",
            invoices_t.c.currency == currency,
            invoices_t.c.extended_status == S.GATHERING.value,
        )
    ).first()


def refresh(uow: UnitOfWork, inv: Row[Any]) -> Row[Any]:
    """Period, totals and due time of a manual invoice follow its lines."""
    rows = invoices.stored_lines(uow, inv.id)
    if not rows:  # every line removed (Update Invoice): the totals are zero, the period stays
        invoices.store_totals(uow, inv, [])
        return invoices.load(uow, inv.id)
    values: dict[str, Any] = {
        "period_start": min(r.period_start for r in rows),
        "period_end": max(r.period_end for r in rows),
    }
    if inv.extended_status == S.GATHERING:
        values["next_action_at"] = min(r.invoice_at for r in rows)
    uow.conn.execute(update(invoices_t).where(invoices_t.c.id == inv.id).values(values))
    invoices.store_totals(uow, inv, [r.amount for r in rows])
    return invoices.load(uow, inv.id)


def create(uow: UnitOfWork, actor: Actor, customer_id: str, data: dict[str, Any]) -> dict[str, Any]:
    customer = customers.find(uow, actor.namespace, customer_id)
    currency = currency_field(data["currency"])
    raw_lines = data.get("lines") or []
    if not raw_lines:
        raise InvalidInput.on("lines", "at least one line")
    if len(raw_lines) > MAX_LINES:
        raise InvalidInput.on("lines", f"at most {MAX_LINES} lines")
    values = [line_values(raw, f"lines[{i}]", currency) for i, raw in enumerate(raw_lines)]
    uow.lock_customer(customer.id)
    inv = _gathering(uow, customer.id, currency)
    is_new = inv is None
    if inv is None:
        first = values[0]
        invoice_id = invoices.create(
            uow,
            namespace=actor.namespace,
            customer_id=customer.id,
            subscription_id=None,
            kind="manual",
            currency=currency,
            period=(first["period_start"], first["period_end"]),
        )
        inv = invoices.load(uow, invoice_id)
    position = uow.conn.execute(
        select(func.count()).select_from(invoice_lines).where(invoice_lines.c.invoice_id == inv.id)
    ).scalar_one()
    ids = []
    for offset, v in enumerate(values):
        line_id = new_id()
        ids.append(line_id)
        uow.conn.execute(
            insert(invoice_lines).values(
                v
                | {
                    "id": line_id,
                    "namespace": actor.namespace,
                    "invoice_id": inv.id,
                    "position": position + offset,
                    "created_at": uow.now,
                    "updated_at": uow.now,
                }
            )
        )
    inv = refresh(uow, inv)
    view = billing.invoice_view(uow, inv)
    return {"lines": [ln for ln in view["lines"] if ln["id"] in ids], "invoice": view, "isInvoiceNew": is_new}


def invoice_pending(
    uow: UnitOfWork, actor: Actor, inv: Row[Any], as_of: datetime, line_ids: Sequence[str] | None = None
) -> Row[Any] | None:
    """Invoice a gathering manual invoice's lines due by ``as_of``: all of it, or split off the due part."""
    rows = invoices.stored_lines(uow, inv.id)
    due = [r for r in rows if r.invoice_at <= as_of and (line_ids is None or r.id in line_ids)]
    if not due:
        return None
    if len(due) < len(rows):
        new_id_ = invoices.create(
            uow,
            namespace=inv.namespace,
            customer_id=inv.customer_id,
            subscription_id=None,
            kind="manual",
            currency=inv.currency,
            period=(min(r.period_start for r in due), max(r.period_end for r in due)),
        )
        uow.conn.execute(
            update(invoice_lines).where(invoice_lines.c.id.in_([r.id for r in due])).values(invoice_id=new_id_)
        )
        refresh(uow, inv)
        target = refresh(uow, invoices.load(uow, new_id_))
    else:
        target = inv
    uow.conn.execute(update(invoices_t).where(invoices_t.c.id == target.id).values(next_action_at=None))
    target = invoices.take_snapshot(uow, invoices.load(uow, target.id))
    return lifecycle.fire_loaded(uow, actor, target, T.INVOICE)


def invoice_now(uow: UnitOfWork, actor: Actor, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Invoice a customer's pending lines now (as of ``asOf``): one invoice per currency."""
    customer = customers.find(uow, actor.namespace, data["customerId"], field="customerId")
    as_of = utc_field(data["asOf"], "asOf") if data.get("asOf") else uow.now
    if as_of > uow.now:
        raise InvalidInput.on("asOf", "must not be in the future")
    line_ids = (data.get("filters") or {}).get("lineIds")
    uow.lock_customer(customer.id)
    gathering = uow.conn.execute(
        select(invoices_t).where(
            invoices_t.c.customer_id == customer.id,
            invoices_t.c.kind == "manual",
            invoices_t.c.extended_status == S.GATHERING.value,
        )
    ).all()
    issued = [inv for inv in (invoice_pending(uow, actor, g, as_of, line_ids) for g in gathering) if inv is not None]
    if not issued:
        raise Conflict("the customer has no pending lines to invoice", code="nothing_to_invoice")
    return [billing.invoice_view(uow, inv) for inv in issued]
