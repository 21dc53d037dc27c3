"""Firing triggers: the only code that changes an invoice's status, always through the table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from billhook.domain import lifecycle
from billhook.domain.invoicing import validate
from billhook.domain.lifecycle import Facts, S, T, Transition
from billhook.errors import Conflict
from billhook.events import outbox
from billhook.ids import new_id
from billhook.services import apps, billable, invoices, numbering, workflow
from billhook.services.common import Actor, iso
from billhook.store.schema import invoice_lines, invoice_transitions
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

MAX_STEPS = 64


def facts(uow: UnitOfWork, inv: Row[Any], *, line_count: int | None = None) -> Facts:
    wf = inv.workflow
    if line_count is None:
        line_count = uow.conn.execute(
            select(func.count()).select_from(invoice_lines).where(invoice_lines.c.invoice_id == inv.id)
        ).scalar_one()
    state = S(inv.extended_status)
    invoicing_app = apps.load(uow, inv.invoicing_app_id)
    payment_app = apps.load(uow, inv.payment_app_id)
    custom = invoicing_app is not None and invoicing_app.type == apps.CUSTOM_INVOICING
    return Facts(
        now=uow.now,
        period_ended=inv.period_end <= uow.now,
        has_lines=line_count > 0,
        billable_hold_released=state != S.DRAFT_OUTSTANDING or billable.hold(uow, inv).released,
        critical_issues=any(i["severity"] == "critical" for i in inv.validation_issues),
        draft_sync_hook=custom and bool(invoicing_app and invoicing_app.enable_draft_sync_hook),
        draft_synced=inv.draft_synced_at is not None,
        issuing_sync_hook=custom and bool(invoicing_app and invoicing_app.enable_issuing_sync_hook),
        auto_advance=workflow.auto_advance(wf),
        draft_until=inv.draft_until,
        auto_settle=payment_app is None or payment_app.type == apps.SANDBOX,
        due_at=inv.due_at,
    )


def view(uow: UnitOfWork, inv: Row[Any]) -> dict[str, Any]:
    return invoices.view(uow, inv, facts=facts(uow, inv))


def fire(uow: UnitOfWork, actor: Actor, invoice_id: str, trigger: T) -> Row[Any]:
    """Fire ``trigger`` on an invoice under its customer's lock, then advance until stable."""
    inv = invoices.find(uow, actor.namespace, invoice_id)
    uow.lock_customer(inv.customer_id)
    return fire_loaded(uow, actor, invoices.load(uow, invoice_id), trigger)  # re-read under the lock


def fire_loaded(uow: UnitOfWork, actor: Actor, inv: Row[Any], trigger: T) -> Row[Any]:
    """``fire`` for an invoice the caller has just read under its customer's lock."""
    state = S(inv.extended_status)
    lines = invoices.stored_lines(uow, inv.id)
    f = facts(uow, inv, line_count=len(lines))
    row = lifecycle.find(state, trigger, f)
    if row is None:
        allowed = [t.value for t in lifecycle.allowed_triggers(state, f) if t != T.NEXT]
        raise Conflict(
            f"{trigger.value} is not allowed while the invoice is {state.value}; "
            f"allowed: {', '.join(allowed) if allowed else 'none'}",
            code="invalid_transition",
        )
    inv = apply(uow, actor, inv, row, lines)
    return advance(uow, actor, inv, lines)


def advance(uow: UnitOfWork, actor: Actor, inv: Row[Any], lines: Sequence[Any] | None = None) -> Row[Any]:
    """Fire ``next`` for as long as the table allows it: stop at a hold point or a final state.

    Transitions never change lines, so they are read once for the whole walk.
    """
    if lines is None:
        lines = invoices.stored_lines(uow, inv.id)
    for _ in range(MAX_STEPS):
        row = lifecycle.find(S(inv.extended_status), T.NEXT, facts(uow, inv, line_count=len(lines)))
        if row is None:
            break
        inv = apply(uow, actor, inv, row, lines)
    return _schedule(uow, inv)


def _schedule(uow: UnitOfWork, inv: Row[Any]) -> Row[Any]:
    """Store when the worker must look at the invoice again, or NULL when it waits for someone else."""
    state = S(inv.extended_status)
    at: datetime | None = None
    if state == S.DRAFT_WAITING_AUTO_APPROVAL:
        at = inv.draft_until
    elif state == S.DRAFT_OUTSTANDING:
        at = billable.hold(uow, inv).release_at
    elif state in (S.PAYMENT_PENDING, S.PAYMENT_FAILED, S.PAYMENT_ACTION_REQUIRED):
        at = inv.due_at
    elif state == S.GATHERING:
        at = inv.next_action_at  # manual lines fall due at their invoiceAt; subscriptions keep their own schedule
    if at != inv.next_action_at:
        uow.conn.execute(update(invoices_t).where(invoices_t.c.id == inv.id).values(next_action_at=at))
        inv = invoices.load(uow, inv.id)
    return inv


def _on_enter(uow: UnitOfWork, inv: Row[Any], row: Transition, line_count: int) -> dict[str, Any]:
    """Data a state sets when it is entered."""
    target, now, wf = row.target, uow.now, inv.workflow
    values: dict[str, Any] = {}
    if row.reset_draft_sync:
        values["draft_synced_at"] = None
    if target == S.DRAFT_VALIDATING:
        count = line_count
        values["validation_issues"] = [
            {"id": new_id(), "component": "billhook", "createdAt": iso(now), "updatedAt": iso(now)} | asdict(i)
            for i in validate(inv.total, count)
        ]
    elif target == S.DRAFT_WAITING_AUTO_APPROVAL:
        values["draft_until"] = workflow.draft_period(wf).after(now)
    elif target == S.ISSUED:
        if inv.number.startswith("DRAFT-"):
            values["number"] = numbering.next_number(uow, inv.namespace, inv.profile_id or "default")
        values["issued_at"] = now
        values["due_at"] = workflow.due_after(wf).after(now)
    elif target == S.PAID:
        values["paid_at"] = now
    elif target == S.VOIDED:
        values["voided_at"] = now
    elif target == S.DELETED:
        values["deleted_at"] = now
    return values


_EVENTS_ON_ENTER = {S.PAID: "invoice.paid", S.OVERDUE: "invoice.overdue"}


def apply(
    uow: UnitOfWork, actor: Actor, inv: Row[Any], row: Transition, lines: Sequence[Any] | None = None
) -> Row[Any]:
    """Take one transition: save it, record it, and emit its events, all in this transaction."""
    if lines is None:
        lines = invoices.stored_lines(uow, inv.id)
    values = _on_enter(uow, inv, row, len(lines)) | {
        "status": row.target.short,
        "extended_status": row.target.value,
        "updated_at": uow.now,
        "version": inv.version + 1,
    }
    updated = uow.conn.execute(
        update(invoices_t)
        .where(invoices_t.c.id == inv.id, invoices_t.c.version == inv.version)
        .values(values)
        .returning(*invoices_t.c)
    ).first()
    if updated is None:
        raise Conflict("the invoice changed meanwhile; try again", code="concurrent_update")
    inv = updated
    uow.conn.execute(
        insert(invoice_transitions).values(
            id=new_id(),
            namespace=inv.namespace,
            invoice_id=inv.id,
            seq=inv.version,
            from_status=row.source.value,
            to_status=row.target.value,
            trigger=row.trigger.value,
            actor=actor.name,
            at=uow.now,
        )
    )
    data = invoices.view(uow, inv, facts=facts(uow, inv, line_count=len(lines)), lines=lines)
    if row.source == S.GATHERING and row.target != S.DELETED:
        outbox.record(uow, inv.namespace, "invoice.created", inv.id, data)
    outbox.record(uow, inv.namespace, "invoice.updated", inv.id, data)
    if row.target == S.DRAFT_OUTSTANDING and row.source != S.DRAFT_OUTSTANDING:
        billable.announce(uow, inv, data)
    if row.target in _EVENTS_ON_ENTER:
        outbox.record(uow, inv.namespace, _EVENTS_ON_ENTER[row.target], inv.id, data)
    return inv


def record_edit(uow: UnitOfWork, actor: Actor, inv: Row[Any]) -> Row[Any]:
    """An edit to a draft: fire ``update`` (it stays, or goes back to validating) and advance."""
    state = S(inv.extended_status)
    row = lifecycle.find(state, T.UPDATE, facts(uow, inv))
    if row is None:
        raise Conflict(f"the invoice is {state.value} and can no longer change", code="invoice-immutable")
    if state == S.GATHERING:
        return inv
    lines = invoices.stored_lines(uow, inv.id)
    inv = apply(uow, actor, inv, row, lines)
    return advance(uow, actor, inv, lines)
