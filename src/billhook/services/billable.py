"""Hold 1, the Subscription Billable hook: announce a closed period's invoice, and say when it may run.

The invoice waits in ``draft.outstanding`` until every ``subscription.billable`` delivery for it has
succeeded and the profile's ``billableGrace`` has passed since the last success. When every attempt of
a delivery failed, ``billableHookFailure`` decides: ``hold`` (stay, with a critical issue, until a
redelivery succeeds or someone runs it) or ``proceed`` (as if acknowledged when it failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from billhook.domain.lifecycle import S
from billhook.events import outbox
from billhook.events.catalog import BILLABLE
from billhook.services import workflow
from billhook.store.schema import customers, invoices, subscriptions, webhook_deliveries
from billhook.store.sql import among
from billhook.store.uow import UnitOfWork

FAILED_ISSUE = "billable_hook_failed"


@dataclass(frozen=True)
class Hold:
    released: bool
    release_at: datetime | None  # when the grace ends, once every delivery is settled
    pending: int
    delivered: int
    failed: int
    behind: str | None = None  # an older invoice of the subscription still held here: it runs first


def announces(uow: UnitOfWork, inv: Any) -> bool:
    """Whether ``announce`` has anyone to tell: a subscription's closed period (not the opening
    invoice), and an endpoint that receives ``subscription.billable``."""
    return (
        inv.kind == "period"
        and inv.subscription_id is not None
        and bool(outbox.subscribers(uow, inv.namespace, BILLABLE))
    )


def announce(uow: UnitOfWork, inv: Row[Any], invoice_view: dict[str, Any]) -> Hold:
    """Tell the listeners that a subscription's closed period is billable; returns the hold the invoice
    is under from now on (until the deliveries just made settle). Only when ``announces``."""
    # imported here: the subscription views import the period engine, which imports the lifecycle
    from billhook.services import customers as customer_service
    from billhook.services import subscriptions as subscription_service

    # a worker's chunk read both ahead (the subscription as it is until its period's close is written)
    sub: Any = uow.memo.pop(("subscription", inv.subscription_id), None)
    if sub is None:
        sub = uow.conn.execute(select(subscriptions).where(subscriptions.c.id == inv.subscription_id)).one()
    cust: Any = uow.memo.get(("customer", inv.customer_id))
    if cust is None:
        cust = uow.conn.execute(select(customers).where(customers.c.id == inv.customer_id)).one()
    data = {
        "subscription": subscription_service.view(uow, sub),
        "customer": customer_service.view(cust),
        "invoice": invoice_view,
    }
    outbox.record(uow, inv.namespace, BILLABLE, inv.id, data)
    waiting = len(outbox.subscribers(uow, inv.namespace, BILLABLE))
    return Hold(released=False, release_at=None, pending=waiting, delivered=0, failed=0)


_DELIVERY = (webhook_deliveries.c.status, webhook_deliveries.c.succeeded_at, webhook_deliveries.c.failed_at)


def prefetch(uow: UnitOfWork, invoice_ids: list[str]) -> None:
    """The billable deliveries of these invoices, one statement for all, for ``hold`` to take once."""
    found: dict[str, list[Any]] = {i: [] for i in invoice_ids}
    if invoice_ids:
        q = select(webhook_deliveries.c.subject_id, *_DELIVERY).where(
            among(uow.conn, webhook_deliveries.c.subject_id, invoice_ids), webhook_deliveries.c.event_type == BILLABLE
        )
        for r in uow.conn.execute(q):
            found[r.subject_id].append(r)
    for invoice_id, rows in found.items():
        uow.memo[("billable_deliveries", invoice_id)] = rows


def none_yet(uow: UnitOfWork, invoice_id: str) -> None:
    """An invoice made in this transaction: it has no billable deliveries for ``hold`` to look up."""
    uow.memo[("billable_deliveries", invoice_id)] = []


def hold(uow: UnitOfWork, inv: Row[Any]) -> Hold:
    rows: Any = uow.memo.pop(("billable_deliveries", inv.id), None)
    if rows is None:
        rows = uow.conn.execute(
            select(*_DELIVERY).where(
                webhook_deliveries.c.subject_id == inv.id, webhook_deliveries.c.event_type == BILLABLE
            )
        ).all()
    behind = older_held(uow, inv)
    if not rows:
        return Hold(behind is None, None, 0, 0, 0, behind)
    pending = sum(1 for r in rows if r.status == "pending")
    delivered = [r.succeeded_at for r in rows if r.status == "succeeded"]
    failed = [r.failed_at for r in rows if r.status == "failed"]
    if pending:
        return Hold(False, None, pending, len(delivered), len(failed), behind)
    if failed and workflow.billable_hook_failure(inv.workflow) == "hold":
        return Hold(False, None, 0, len(delivered), len(failed), behind)
    settled = max(t for t in delivered + failed if t is not None)
    release_at = workflow.billable_grace(inv.workflow).after(settled)
    # behind an older one: not released, whatever the grace says (its leaving looks again: ``wake_next``)
    return Hold(behind is None and uow.now >= release_at, release_at, 0, len(delivered), len(failed), behind)


# ------------------------------------------------------------------ held invoices run in period order

_OLDER_HELD = (
    select(invoices.c.id)
    .where(
        invoices.c.subscription_id == bindparam("subscription_id"),
        invoices.c.kind == "period",
        invoices.c.extended_status == S.DRAFT_OUTSTANDING.value,
        invoices.c.period_start < bindparam("period_start"),
    )
    .order_by(invoices.c.period_start)
    .limit(1)
)


def prefetch_held(uow: UnitOfWork, subscription_ids: list[str]) -> None:
    """Which of these subscriptions have an invoice held in ``draft.outstanding``, one statement for all,
    so that closing their periods (whose new invoices pass hold 1 at once when none is) asks no more."""
    held = set(
        uow.conn.execute(
            select(invoices.c.subscription_id).where(
                among(uow.conn, invoices.c.subscription_id, subscription_ids),
                invoices.c.extended_status == S.DRAFT_OUTSTANDING.value,
            )
        ).scalars()
    )
    for sub_id in subscription_ids:
        if sub_id not in held:
            uow.memo[("none_held", sub_id)] = True


def older_held(uow: UnitOfWork, inv: Any) -> str | None:
    """The oldest invoice of the same subscription still held in ``draft.outstanding`` for a period
    before this one's, if any: held invoices leave hold 1 in period order."""
    if inv.kind != "period" or inv.subscription_id is None or uow.memo.get(("none_held", inv.subscription_id)):
        return None
    params = {"subscription_id": inv.subscription_id, "period_start": inv.period_start}
    return uow.conn.execute(_OLDER_HELD, params).scalar()  # type: ignore[no-any-return]


_NEWER_HELD = (
    update(invoices)
    .where(
        invoices.c.subscription_id == bindparam("_subscription_id"),
        invoices.c.kind == "period",
        invoices.c.extended_status == S.DRAFT_OUTSTANDING.value,
        invoices.c.period_start > bindparam("_period_start"),
    )
    .values(next_action_at=bindparam("_now"))
)


def wake_next(uow: UnitOfWork, inv: Any) -> None:
    """``inv`` left hold 1: the worker looks again, now, at the newer invoices it held back."""
    if inv.kind == "period" and inv.subscription_id is not None:
        params = {"_subscription_id": inv.subscription_id, "_period_start": inv.period_start, "_now": uow.now}
        uow.conn.execute(_NEWER_HELD, params)
