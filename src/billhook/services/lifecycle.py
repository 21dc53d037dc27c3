"""Firing triggers: the only code that changes an invoice's status, always through the table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update

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


def facts(uow: UnitOfWork, inv: Row[Any], *, line_count: int | None = None, hold: billable.Hold | None = None) -> Facts:
    wf = inv.workflow
    if line_count is None:
        line_count = uow.conn.execute(
            select(func.count()).select_from(invoice_lines).where(invoice_lines.c.invoice_id == inv.id)
        ).scalar_one()
    state = S(inv.extended_status)
    if state == S.DRAFT_OUTSTANDING:
        hold = hold or billable.hold(uow, inv)
    invoicing_app = apps.load(uow, inv.invoicing_app_id)
    payment_app = apps.load(uow, inv.payment_app_id)
    custom = invoicing_app is not None and invoicing_app.type == apps.CUSTOM_INVOICING
    return Facts(
        now=uow.now,
        period_ended=inv.period_end <= uow.now,
        has_lines=line_count > 0,
        billable_hold_released=hold is None or hold.released,
        older_held=hold is not None and hold.behind is not None,
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
    walk = Walk(uow, actor, inv)
    state = S(inv.extended_status)
    f = walk.facts()
    row = lifecycle.find(state, trigger, f)
    if row is None:
        if f.older_held and trigger == T.APPROVE:
            raise Conflict(
                f"invoice {walk.hold().behind} of the same subscription is held for an earlier period "
                "and runs first: held invoices run in period order",
                code="older-invoice-held",
            )
        allowed = [t.value for t in lifecycle.allowed_triggers(state, f) if t != T.NEXT]
        raise Conflict(
            f"{trigger.value} is not allowed while the invoice is {state.value}; "
            f"allowed: {', '.join(allowed) if allowed else 'none'}",
            code="invalid_transition",
        )
    walk.step(row)
    return walk.advance()


def advance(
    uow: UnitOfWork,
    actor: Actor,
    inv: Row[Any],
    *,
    lines: list[Row[Any]] | None = None,
    changes: dict[str, Any] | None = None,
    hold: billable.Hold | None = None,
) -> Row[Any]:
    """Fire ``next`` for as long as the table allows it: stop at a hold point or a final state.
    ``lines``: the invoice's stored lines, when the caller has just written them; ``changes``: column
    values the caller has for the invoice and leaves to the walk to write with its own; ``hold``: its
    billable hold, when the caller has just looked."""
    return Walk(uow, actor, inv, lines=lines, changes=changes, hold=hold).advance()


def record_edit(uow: UnitOfWork, actor: Actor, inv: Row[Any]) -> Row[Any]:
    """An edit to a draft: fire ``update`` (it stays, or goes back to validating) and advance."""
    state = S(inv.extended_status)
    walk = Walk(uow, actor, inv)
    row = lifecycle.find(state, T.UPDATE, walk.facts())
    if row is None:
        raise Conflict(f"the invoice is {state.value} and can no longer change", code="invoice-immutable")
    if state == S.GATHERING:
        return inv
    walk.step(row)
    return walk.advance()


class Walk:
    """One invoice's transitions in this transaction, taken in memory and written together.

    Every transition is still recorded (history row, ``invoice.updated`` event with the invoice as
    it was after that step), in the same database transaction as the change; only the number of
    statements shrinks: one UPDATE of the invoice (guarded by its version, carrying the caller's
    ``changes`` too; in write-behind mode sent with the rest of the chunk), and the history and
    events go to the unit of work's write buffer. Transitions never change lines or totals, so those
    are read once, and what a transition cannot change in the invoice's view is rendered once; so is
    the billable hold looked up, until the walk announces.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        actor: Actor,
        inv: Row[Any],
        *,
        lines: list[Row[Any]] | None = None,
        changes: dict[str, Any] | None = None,
        hold: billable.Hold | None = None,
    ) -> None:
        self.uow = uow
        self.actor = actor
        self.start_version = inv.version
        self.changes: dict[str, Any] = dict(changes or {})
        self.inv: Any = SimpleNamespace(**(dict(inv._mapping) | self.changes))
        self.history: list[dict[str, Any]] = []
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []
        self.lines = invoices.stored_lines(uow, inv.id) if lines is None else lines
        self._settled: tuple[str, dict[str, Any]] | None = None  # (the number it shows, the view's settled part)
        self._hold = hold
        self._facts: Facts | None = None  # as the invoice is now: taken again after each step

    def hold(self) -> billable.Hold:
        if self._hold is None:
            self._hold = billable.hold(self.uow, self.inv)
        return self._hold

    def facts(self) -> Facts:
        if self._facts is None:
            hold = self.hold() if self.inv.extended_status == S.DRAFT_OUTSTANDING else None
            self._facts = facts(self.uow, self.inv, line_count=len(self.lines), hold=hold)
        return self._facts

    def view(self) -> dict[str, Any]:
        """The invoice as it is now. What a transition cannot change is rendered once per walk; the
        lines show the invoice's number, which only their ``invoice`` reference is patched for."""
        number = self.inv.number
        if self._settled is None:
            lines = [invoices.line_view(r, self.inv) for r in self.lines]
            totals = invoices.totals_view(invoices.stored_totals(self.inv), self.inv.currency)
            self._settled = (number, invoices.settled_view(self.uow, self.inv, lines, totals))
        elif self._settled[0] != number:
            ref = {"id": self.inv.id, "number": number}
            lines = [v | {"invoice": dict(ref)} for v in self._settled[1]["lines"]]
            self._settled = (number, self._settled[1] | {"lines": lines})
        return self._settled[1] | invoices.changing_view(self.uow, self.inv, self.facts())

    def step(self, row: Transition) -> None:
        uow, inv = self.uow, self.inv
        values = _on_enter(uow, inv, row, len(self.lines)) | {
            "status": row.target.short,
            "extended_status": row.target.value,
            "updated_at": uow.now,
            "version": inv.version + 1,
        }
        self.changes.update(values)
        for key, value in values.items():
            setattr(inv, key, value)
        self._facts = None
        self.history.append(
            {
                "id": new_id(),
                "namespace": inv.namespace,
                "invoice_id": inv.id,
                "seq": inv.version,
                "from_status": row.source.value,
                "to_status": row.target.value,
                "trigger": row.trigger.value,
                "actor": self.actor.name,
                "at": uow.now,
            }
        )
        data = self.view()
        if row.source == S.GATHERING and row.target != S.DELETED:
            self.events.append(("invoice.created", inv.id, data))
        self.events.append(("invoice.updated", inv.id, data))
        if row.target in _EVENTS_ON_ENTER:
            self.events.append((_EVENTS_ON_ENTER[row.target], inv.id, data))
        left_hold = row.source == S.DRAFT_OUTSTANDING and row.target != S.DRAFT_OUTSTANDING
        if left_hold and self.history[0]["from_status"] != S.GATHERING:  # none is newer than one just closed
            billable.wake_next(uow, inv)  # the newer ones it held back at hold 1 are looked at again
        if row.target == S.DRAFT_OUTSTANDING and row.source != S.DRAFT_OUTSTANDING and billable.announces(uow, inv):
            self._write_events()  # the billable hook comes after the invoice's own events
            self._hold = billable.announce(uow, inv, data)  # it made the deliveries the invoice waits for
            self._facts = None

    def advance(self) -> Row[Any]:
        for _ in range(MAX_STEPS):
            row = lifecycle.find(S(self.inv.extended_status), T.NEXT, self.facts())
            if row is None:
                break
            self.step(row)
        return self.finish()

    def _write_events(self) -> None:
        if self.events:
            outbox.record_many(self.uow, self.inv.namespace, self.events)
            self.events = []

    def finish(self) -> Row[Any]:
        """Write what the walk did, and when the worker must look at the invoice next."""
        at = _next_look(self.uow, self.inv, self.hold)
        if at != self.inv.next_action_at:
            self.changes["next_action_at"] = self.inv.next_action_at = at
        uow = self.uow
        if not self.changes:
            return invoices.load(uow, self.inv.id)
        params = self.changes | {"_id": self.inv.id, "_version": self.start_version}
        if uow.write_behind:  # sent with the chunk's (and fails it if the invoice changed meanwhile)
            uow.buffer.update(_GUARDED_UPDATE_LATER, params, guarded=True)
            updated: Any = SimpleNamespace(**vars(self.inv))
        else:
            updated = uow.conn.execute(_GUARDED_UPDATE, params).first()
            if updated is None:
                raise Conflict("the invoice changed meanwhile; try again", code="concurrent_update")
        uow.append(invoice_transitions, self.history)
        self._write_events()
        self.changes, self.history, self.start_version = {}, [], updated.version
        return updated  # type: ignore[no-any-return]


# The columns it sets come with the parameters: one statement, compiled once per set of columns.
_GUARDED_UPDATE_LATER = update(invoices_t).where(
    invoices_t.c.id == bindparam("_id"), invoices_t.c.version == bindparam("_version")
)
_GUARDED_UPDATE = _GUARDED_UPDATE_LATER.returning(*invoices_t.c)


def _next_look(uow: UnitOfWork, inv: Any, hold: Callable[[], billable.Hold]) -> datetime | None:
    """When the worker must look at the invoice again, or None when it waits for someone else."""
    state = S(inv.extended_status)
    if state == S.DRAFT_WAITING_AUTO_APPROVAL:
        return inv.draft_until  # type: ignore[no-any-return]
    if state == S.DRAFT_OUTSTANDING:
        return hold().release_at
    if state in (S.PAYMENT_PENDING, S.PAYMENT_FAILED, S.PAYMENT_ACTION_REQUIRED):
        return inv.due_at  # type: ignore[no-any-return]
    if state == S.GATHERING:
        return inv.next_action_at  # type: ignore[no-any-return]  # manual lines fall due at their invoiceAt
    return None


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
