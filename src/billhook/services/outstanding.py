"""A subscription's held invoices: read the one a request names, and Run it (the lifecycle's ``approve``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from billhook.domain.lifecycle import S, T
from billhook.errors import Conflict, NotFound
from billhook.services import billing, invoices, lifecycle, periods, subscriptions
from billhook.services.common import Actor, iso
from billhook.store.uow import UnitOfWork


def get(uow: UnitOfWork, namespace: str, subscription_id: str, invoice_id: str | None = None) -> dict[str, Any]:
    """The oldest held invoice (the one ``invoicePeriod=outstanding`` changes), or the held ``invoice_id``."""
    sub = subscriptions.find(uow, namespace, subscription_id)
    if invoice_id is not None:
        return billing.invoice_view(uow, periods.held_invoice(uow, sub, invoice_id))
    inv = periods.oldest_held(uow, sub)
    if inv is None:
        raise NotFound("the subscription has no outstanding invoice")
    return billing.invoice_view(uow, inv)


def run(uow: UnitOfWork, actor: Actor, subscription_id: str, invoice_id: str | None = None) -> dict[str, Any]:
    """Run it now: skip the billable wait (never a sync hook); on a failed payment, retry it. Held
    invoices run in period order: a newer one is refused while an older one is still held."""
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    oldest = periods.oldest_held(uow, sub)
    inv = _runnable(uow, sub, invoice_id, oldest)
    if inv.extended_status == S.PAYMENT_FAILED:
        return billing.invoice_view(uow, lifecycle.fire(uow, actor, inv.id, T.RETRY))
    if oldest is not None and oldest.period_start < inv.period_start:
        raise Conflict(
            f"invoice {oldest.id} (period from {iso(oldest.period_start)}) is held for an earlier period "
            f"and is {oldest.extended_status}: it runs first",
            code="older-invoice-held",
        )
    return billing.invoice_view(uow, lifecycle.fire(uow, actor, inv.id, T.APPROVE))


def _runnable(uow: UnitOfWork, sub: Row[Any], invoice_id: str | None, oldest: Row[Any] | None) -> Row[Any]:
    """The invoice a run names: ``invoice_id`` (held, or with a failed payment to retry), or else the
    oldest held one, or else the latest closed one when its payment failed."""
    if invoice_id is not None:
        inv = invoices.find(uow, sub.namespace, invoice_id)
        if inv.subscription_id == sub.id and inv.extended_status == S.PAYMENT_FAILED:
            return inv
        return periods.held_invoice(uow, sub, invoice_id)
    if oldest is not None:
        return oldest
    failed = periods.latest_closed(uow, sub)
    if failed is not None and failed.extended_status == S.PAYMENT_FAILED:
        return failed
    raise Conflict("the subscription has no outstanding invoice", code="no-outstanding-invoice")
