"""The outstanding invoice of a subscription: read it, and Run it (the lifecycle's ``approve``)."""

from __future__ import annotations

from typing import Any

from billhook.domain.lifecycle import S, T
from billhook.errors import Conflict, NotFound
from billhook.services import billing, lifecycle, periods, subscriptions
from billhook.services.common import Actor
from billhook.store.uow import UnitOfWork


def get(uow: UnitOfWork, namespace: str, subscription_id: str) -> dict[str, Any]:
    sub = subscriptions.find(uow, namespace, subscription_id)
    inv = periods.outstanding(uow, sub)
    if inv is None:
        raise NotFound("the subscription has no outstanding invoice")
    return billing.invoice_view(uow, inv)


def run(uow: UnitOfWork, actor: Actor, subscription_id: str) -> dict[str, Any]:
    """Run it now: skip the billable wait (never a sync hook); on a failed payment, retry it."""
    sub = subscriptions.find_locked(uow, actor.namespace, subscription_id)
    inv = periods.latest_closed(uow, sub)
    if inv is None:
        raise Conflict("the subscription has no outstanding invoice", code="no-outstanding-invoice")
    trigger = T.RETRY if inv.extended_status == S.PAYMENT_FAILED else T.APPROVE
    return billing.invoice_view(uow, lifecycle.fire(uow, actor, inv.id, trigger))
