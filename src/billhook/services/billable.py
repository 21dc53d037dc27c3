"""Hold 1, the Subscription Billable hook: announce a closed period's invoice, and say when it may run.

The invoice waits in ``draft.outstanding`` until every ``subscription.billable`` delivery for it has
succeeded and the profile's ``billableGrace`` has passed since the last success. When every attempt of
a delivery failed, ``billableHookFailure`` decides: ``hold`` (stay, with a critical issue, until a
redelivery succeeds or someone runs it) or ``proceed`` (as if acknowledged when it failed).
"""

from __future__ import annotations

from collections.abc import Collection
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
# A subscription's invoices waiting at hold 1, oldest first, as (period start, id): read for a batch in
# one statement (``prefetch_waiting``) or for one invoice when nothing was read ahead. What was read ahead
# may be out of date by the end of a batch, only ever on the safe side: an invoice it still shows as
# waiting has left since, which holds a newer one back until the grace it would wait for anyway ends
# (the worker looks then), or asks for a wake that finds nothing to wake.

_WAITING = (invoices.c.kind == "period", invoices.c.extended_status == S.DRAFT_OUTSTANDING.value)


def prefetch_waiting(uow: UnitOfWork, subscription_ids: Collection[str]) -> None:
    """The invoices of these subscriptions waiting at hold 1, one statement for all, for ``older_held``
    and ``wake_next`` to take from."""
    waiting: dict[str, list[tuple[datetime, str]]] = {s: [] for s in subscription_ids}
    if waiting:
        q = select(invoices.c.subscription_id, invoices.c.period_start, invoices.c.id).where(
            among(uow.conn, invoices.c.subscription_id, list(waiting)), *_WAITING
        )
        for r in uow.conn.execute(q.order_by(invoices.c.period_start)):
            waiting[r.subscription_id].append((r.period_start, r.id))
    for sub_id, found in waiting.items():
        uow.memo[("waiting", sub_id)] = found


def _waiting(uow: UnitOfWork, inv: Any) -> list[tuple[datetime, str]] | None:
    """What ``prefetch_waiting`` read for ``inv``'s subscription (None: nothing was read ahead)."""
    return uow.memo.get(("waiting", inv.subscription_id))  # type: ignore[return-value]


_OLDER = (
    select(invoices.c.id)
    .where(
        invoices.c.subscription_id == bindparam("subscription_id"),
        invoices.c.period_start < bindparam("period_start"),
        *_WAITING,
    )
    .order_by(invoices.c.period_start)
    .limit(1)
)


def older_held(uow: UnitOfWork, inv: Any) -> str | None:
    """The oldest invoice of the same subscription still waiting at hold 1 for a period before this
    one's, if any: held invoices leave hold 1 in period order."""
    if inv.kind != "period" or inv.subscription_id is None:
        return None
    waiting = _waiting(uow, inv)
    if waiting is not None:
        return next((i for start, i in waiting if start < inv.period_start), None)
    params = {"subscription_id": inv.subscription_id, "period_start": inv.period_start}
    return uow.conn.execute(_OLDER, params).scalar()  # type: ignore[no-any-return]


_WAKE_NEWER = (
    update(invoices)
    .where(
        invoices.c.subscription_id == bindparam("_subscription_id"),
        invoices.c.period_start > bindparam("_period_start"),
        *_WAITING,
    )
    .values(next_action_at=bindparam("_now"))
)


def wake_next(uow: UnitOfWork, inv: Any) -> None:
    """``inv`` left hold 1: the worker looks again, now, at the newer invoices it held back."""
    if inv.kind != "period" or inv.subscription_id is None:
        return
    waiting = _waiting(uow, inv)
    if waiting is not None and all(start <= inv.period_start for start, _ in waiting):
        return  # nothing newer waits
    params = {"_subscription_id": inv.subscription_id, "_period_start": inv.period_start, "_now": uow.now}
    uow.conn.execute(_WAKE_NEWER, params)
