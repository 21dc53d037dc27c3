"""Update Invoice (``PUT /billing/invoices/{id}``): replace a draft's lines, kept by id, and its workflow."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, update

from billhook.domain import lifecycle as table
from billhook.domain.invoicing import usage_amount
from billhook.domain.lifecycle import S, T
from billhook.domain.pricing import parse_price
from billhook.errors import Conflict, InvalidInput
from billhook.ids import new_id
from billhook.services import billing, invoices, lifecycle, pending_lines, profiles
from billhook.services.common import Actor
from billhook.store.schema import invoice_lines
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

_EDITABLE_FIELDS = (
    "name",
    "description",
    "metadata",
    "period_start",
    "period_end",
    "invoice_at",
    "price",
    "quantity",
    "amount",
)


def replace(uow: UnitOfWork, actor: Actor, invoice_id: str, data: dict[str, Any]) -> dict[str, Any]:
    inv = invoices.find(uow, actor.namespace, invoice_id)
    uow.lock_customer(inv.customer_id)
    inv = invoices.load(uow, invoice_id)
    state = S(inv.extended_status)
    if state == S.GATHERING and inv.kind != "manual":
        raise Conflict(
            "a subscription's gathering invoice follows its quantities and charges: change those instead",
            code="invoice-immutable",
        )
    if table.find(state, T.UPDATE, lifecycle.facts(uow, inv)) is None:
        raise Conflict(f"the invoice is {state.value} and can no longer change", code="invoice-immutable")

    existing = {r.id: r for r in invoices.stored_lines(uow, inv.id)}
    incoming = data.get("lines") or []
    seen: set[str] = set()
    removed = list(inv.removed_lines or [])
    for i, raw in enumerate(incoming):
        values = pending_lines.line_values(raw, f"lines[{i}]", inv.currency)
        line_id = raw.get("id")
        if line_id is None:
            uow.conn.execute(
                insert(invoice_lines).values(
                    values
                    | {
                        "id": new_id(),
                        "namespace": inv.namespace,
                        "invoice_id": inv.id,
                        "position": i,
                        "created_at": uow.now,
                        "updated_at": uow.now,
                    }
                )
            )
            continue
        old = existing.get(line_id)
        if old is None:
            raise InvalidInput.on(f"lines[{i}].id", f"{line_id!r} is not a line of this invoice")
        seen.add(line_id)
        if values["price"] == old.price and values["quantity"] == old.quantity:
            values["amount"] = old.amount  # keep what was computed (proration, included quantity)
        elif old.kind == "usage":
            values["amount"] = usage_amount(
                parse_price(values["price"]), values["quantity"], old.included, inv.currency
            )
        changes = {k: values[k] for k in _EDITABLE_FIELDS if values[k] != getattr(old, k)}
        if changes:
            # edited by hand: from now on the line is the user's, not recalculated from the subscription
            uow.conn.execute(
                update(invoice_lines)
                .where(invoice_lines.c.id == line_id)
                .values(changes | {"managed_by": "manual", "updated_at": uow.now})
            )
        if old.position != i:
            uow.conn.execute(update(invoice_lines).where(invoice_lines.c.id == line_id).values(position=i))
    for line_id, old in existing.items():
        if line_id not in seen:
            if old.managed_by == "subscription":
                removed.append(invoices.identity(old.kind, old.key, old.period_start, old.custom_charge_id))
            uow.conn.execute(delete(invoice_lines).where(invoice_lines.c.id == line_id))

    workflow = dict(inv.workflow)
    wf_in = (data.get("workflow") or {}).get("workflow")
    if wf_in:
        workflow = profiles.merge(workflow, profiles.validate_workflow(wf_in, "workflow.workflow"))
    header: dict[str, Any] = {"workflow": workflow, "removed_lines": removed or None, "updated_at": uow.now}
    for key in ("description", "metadata"):
        if key in data:
            header[key] = data[key]
    if data.get("supplier") is not None:
        header["supplier"] = data["supplier"]
    uow.conn.execute(update(invoices_t).where(invoices_t.c.id == inv.id).values(header))
    inv = invoices.load(uow, inv.id)
    if inv.kind == "manual":
        inv = pending_lines.refresh(uow, inv)
    else:
        invoices.store_totals(uow, inv, [r.amount for r in invoices.stored_lines(uow, inv.id)])
    inv = lifecycle.record_edit(uow, actor, invoices.load(uow, inv.id))
    return billing.invoice_view(uow, inv)
