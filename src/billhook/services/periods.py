"""Which invoice an edit addresses, and editing it.

Cheddar's ``invoicePeriod``: ``outstanding`` names the subscription's *held* invoice; anything else,
or nothing, the current open period (its gathering invoice). A subscription may hold several closed
invoices at once (its listener was down for a few periods): they form a queue, oldest first, and
``outstanding`` names the oldest. ``invoiceId`` names one held invoice exactly.

A held invoice is a closed period's invoice that is still an editable draft (``draft.outstanding``,
waiting for the billable hook, or a draft further on that still takes edits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, bindparam, select

from billhook.domain import lifecycle as table
from billhook.errors import Conflict, InvalidInput
from billhook.services import billing, invoices, lifecycle
from billhook.services.common import Actor, iso
from billhook.store.schema import invoices as invoices_t
from billhook.store.uow import UnitOfWork

InvoicePeriod = Literal["current", "outstanding"]

HELD_STATES = tuple(s.value for s in table.S if s != table.S.GATHERING and table.is_editable(s))


def period_of(raw: str | None) -> InvoicePeriod:
    """The seed's rule: ``outstanding`` is the held invoice; any other value, or none, the current period."""
    return "outstanding" if raw == "outstanding" else "current"


@dataclass(frozen=True)
class Address:
    """The invoice a request names: ``invoicePeriod`` (and, for a held invoice, maybe its id)."""

    period: InvoicePeriod = "current"
    invoice_id: str | None = None

    @classmethod
    def of(cls, period: str | None, invoice_id: str | None) -> Address:
        if invoice_id is not None and period is not None and period_of(period) != "outstanding":
            raise InvalidInput.on(
                "invoicePeriod", f"{period!r} names the current period, but invoiceId names a held invoice"
            )
        return cls("outstanding" if invoice_id is not None else period_of(period), invoice_id)


_HELD = (
    select(invoices_t)
    .where(
        invoices_t.c.subscription_id == bindparam("subscription_id"),
        invoices_t.c.kind == "period",
        invoices_t.c.extended_status.in_(HELD_STATES),
    )
    .order_by(invoices_t.c.period_start)
)


def held(uow: UnitOfWork, sub: Row[Any]) -> list[Row[Any]]:
    """The subscription's held invoices, oldest period first."""
    return list(uow.conn.execute(_HELD, {"subscription_id": sub.id}).all())


def is_held(inv: Any) -> bool:
    return inv.kind == "period" and inv.extended_status in HELD_STATES


def oldest_held(uow: UnitOfWork, sub: Row[Any]) -> Row[Any] | None:
    return uow.conn.execute(_HELD.limit(1), {"subscription_id": sub.id}).first()


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


def held_invoice(uow: UnitOfWork, sub: Row[Any], invoice_id: str) -> Row[Any]:
    """The held invoice ``invoice_id`` of this subscription; 404 when the namespace has no such invoice,
    409 naming its status when it is not one of the subscription's held invoices."""
    inv = invoices.find(uow, sub.namespace, invoice_id)
    if inv.subscription_id != sub.id:
        raise Conflict(f"invoice {invoice_id} is not an invoice of subscription {sub.id}", code="invoice-not-held")
    if not is_held(inv):
        where = "the current period's (invoicePeriod=current)" if inv.extended_status == table.S.GATHERING else ""
        raise Conflict(
            f"invoice {invoice_id} is {inv.extended_status}{', ' + where if where else ''}: "
            "only a held invoice (a closed period's draft) takes outstanding edits",
            code="invoice-not-held",
        )
    return inv


def outstanding(uow: UnitOfWork, sub: Row[Any], address: Address | None = None) -> Row[Any]:
    """The held invoice an ``outstanding`` request names: ``invoiceId``'s, or the oldest; 409 when none."""
    if address is not None and address.invoice_id is not None:
        return held_invoice(uow, sub, address.invoice_id)
    inv = oldest_held(uow, sub)
    if inv is None:
        raise Conflict("the subscription has no outstanding invoice", code="no-outstanding-invoice")
    return inv


def target(uow: UnitOfWork, sub: Row[Any], address: Address) -> Row[Any]:
    """The invoice an edit changes; 409 when there is none to change (the current period's: only the
    columns ``gathering_ref`` reads)."""
    if address.period == "outstanding":
        return outstanding(uow, sub, address)
    if sub.status == "ended":
        raise Conflict("the subscription has ended: it has no current period", code="subscription_ended")
    return billing.gathering_ref(uow, sub)  # after_edit has nothing to do for it: the rest is not read


def editable(inv: Any) -> None:
    """409 unless ``inv`` still takes edits: the current period's gathering invoice or a held one."""
    if inv.extended_status != table.S.GATHERING and not is_held(inv):
        raise Conflict(
            f"the invoice {inv.id} is {inv.extended_status} and can no longer change", code="invoice-immutable"
        )


def later(uow: UnitOfWork, sub: Row[Any], inv: Row[Any]) -> list[Row[Any]]:
    """The subscription's period invoices after ``inv``'s period, in order (deleted ones aside)."""
    return list(
        uow.conn.execute(
            select(invoices_t)
            .where(
                invoices_t.c.subscription_id == sub.id,
                invoices_t.c.kind == "period",
                invoices_t.c.period_start > inv.period_start,
                invoices_t.c.extended_status != table.S.DELETED.value,
            )
            .order_by(invoices_t.c.period_start)
        ).all()
    )


def period_name(inv: Any) -> str:
    """Where an invoice stands for ``invoicePeriod``: the current period's, a held one (``outstanding``),
    or billed (``invoiced``: no longer editable)."""
    if inv.extended_status == table.S.GATHERING:
        return "current"
    return "outstanding" if is_held(inv) else "invoiced"


def view_of(inv: Any) -> dict[str, Any]:
    """Which invoice and period a change landed on, for its response."""
    return {
        "invoicePeriod": period_name(inv),
        "invoiceId": inv.id,
        "period": {"from": iso(inv.period_start), "to": iso(inv.period_end)},
    }


def after_edit(uow: UnitOfWork, actor: Actor, sub: Row[Any], inv: Row[Any]) -> None:
    """Recalculate an edited closed invoice and tell the lifecycle (a gathering one is computed live)."""
    if inv.extended_status == table.S.GATHERING:
        return
    rules = billing.plan_rules(uow, sub)
    invoices.write_lines(uow, inv, billing.arrears_for(uow, sub, rules, inv), keep=("manual", "advance"))
    lifecycle.record_edit(uow, actor, invoices.load(uow, inv.id))
