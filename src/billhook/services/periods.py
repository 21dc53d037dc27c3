"""Which invoice ``invoicePeriod=current|outstanding`` names, and editing it."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Row, select

from billhook.domain import lifecycle as table
from billhook.errors import Conflict
from billhook.services import billing, invoices, lifecycle
from billhook.services.common import Actor
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

InvoicePeriod = Literal["current", "outstanding"]


def latest_closed(uow: UnitOfWork, sub: Row[Any]) -> Row[Any] | None:
    """The subscription's most recent period invoice that has left gathering (deleted ones aside)."""
    return uow.conn.execute(
        select(invoices_t)
        .where(
            invoices_t.c.subscription_id == sub.id,
            invoices_t.c.kind == "period",
            invoices_t.c.extended_status.not_in((table.S.GATHERING.value, table.S.DELETED.value)),
        )
        .order_by(invoices_t.c.period_start.desc())
        .limit(1)
    ).first()


def outstanding(uow: UnitOfWork, sub: Row[Any]) -> Row[Any] | None:
    inv = latest_closed(uow, sub)
    if inv is None or not table.is_editable(table.S(inv.extended_status)):
        return None
    return inv


def target(uow: UnitOfWork, sub: Row[Any], period: InvoicePeriod) -> Row[Any]:
    """The invoice an edit with ``invoicePeriod`` changes; 409 when there is none to change (the
    current period's: only the columns ``gathering_ref`` reads)."""
    if period == "outstanding":
        inv = latest_closed(uow, sub)
        if inv is None:
            raise Conflict("the subscription has no outstanding invoice", code="no-outstanding-invoice")
        if not table.is_editable(table.S(inv.extended_status)):
            raise Conflict(
                f"the outstanding invoice is {inv.extended_status} and can no longer change",
                code="invoice-immutable",
            )
        return inv
    if sub.status == "ended":
        raise Conflict("the subscription has ended: it has no current period", code="subscription_ended")
    return billing.gathering_ref(uow, sub)  # after_edit has nothing to do for it: the rest is not read


def after_edit(uow: UnitOfWork, actor: Actor, sub: Row[Any], inv: Row[Any]) -> None:
    """Recalculate an edited closed invoice and tell the lifecycle (a gathering one is computed live)."""
    if inv.extended_status == table.S.GATHERING:
        return
    rules = billing.plan_rules(uow, sub)
    invoices.write_lines(uow, inv, billing.arrears_for(uow, sub, rules, inv), keep=("manual", "advance"))
    lifecycle.record_edit(uow, actor, invoices.load(uow, inv.id))
