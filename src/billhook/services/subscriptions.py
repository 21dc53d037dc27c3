"""Subscriptions: start now or at a date, optional trial, anchored billing periods, cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Row, bindparam, delete, insert, select, update

from billhook.domain.lifecycle import T
from billhook.domain.periods import Period, period_containing
from billhook.errors import Conflict, InvalidInput, NotFound
from billhook.ids import new_id
from billhook.services import billing, customers, invoices, lifecycle, plans
from billhook.services.common import Actor, Page, iso, paginate, utc_field
from billhook.store.schema import custom_charges, item_quantities, subscriptions
from billhook.store.schema import customers as customers_t
from billhook.store.schema import plans as plans_t
from billhook.store.uow import UnitOfWork

PAST_TOLERANCE = timedelta(minutes=5)
RUNNING = ("trialing", "active", "canceled")


def view(uow: UnitOfWork, row: Row[Any]) -> dict[str, Any]:
    plan = uow.memo.get(("plan_key", row.plan_id))  # a worker's chunk read it ahead
    if plan is None:
        plan = uow.conn.execute(select(plans.plans.c.key).where(plans.plans.c.id == row.plan_id)).scalar_one()
    return {
        "id": row.id,
        "customerId": row.customer_id,
        "planId": row.plan_id,
        "planKey": plan,
        "status": row.status,
        "startAt": iso(row.start_at),
        "billingAnchor": iso(row.billing_anchor),
        "trialEnd": iso(row.trial_end),
        "currentPeriod": {"from": iso(row.period_start), "to": iso(row.period_end)},
        "billingDatetime": iso(row.period_end) if row.status != "ended" else None,
        "cancelAt": iso(row.cancel_at),
        "canceledAt": iso(row.canceled_at),
        "endedAt": iso(row.ended_at),
        "metadata": row.metadata or {},
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


_FIND = select(subscriptions).where(subscriptions.c.id == bindparam("id"), subscriptions.c.namespace == bindparam("ns"))


def find(uow: UnitOfWork, namespace: str, subscription_id: str) -> Row[Any]:
    row = uow.conn.execute(_FIND, {"id": subscription_id, "ns": namespace}).first()
    if row is None:
        raise NotFound(f"subscription {subscription_id!r} not found")
    return row


# The customer's lock (PostgreSQL: SQLite's writer holds the whole database), with the subscription's
# plan in the same round trip. The statement reads as it starts, before a lock it waits for is
# granted: what the lock guards (the subscription, its invoices) is read after it (``find``), but a
# plan's replacement takes no customer's lock, so the plan may be read before it. A subscription
# moved to another plan meanwhile is read with its new plan_id, which plan_rules then reads.
_LOCK_OWNER_WITH_PLAN = (
    select(
        customers_t.c.id,
        subscriptions.c.plan_id,
        *(plans_t.c[name] for name in plans.RULE_COLUMNS),
    )
    .join_from(customers_t, subscriptions, subscriptions.c.customer_id == customers_t.c.id)
    .join(plans_t, plans_t.c.id == subscriptions.c.plan_id)
    .where(subscriptions.c.id == bindparam("id"), subscriptions.c.namespace == bindparam("ns"))
    .with_for_update(of=customers_t)
)


def find_locked(uow: UnitOfWork, namespace: str, subscription_id: str) -> Row[Any]:
    """Take the customer's lock, then read: the row every change starts from."""
    if not uow.sqlite:
        owner = uow.conn.execute(_LOCK_OWNER_WITH_PLAN, {"id": subscription_id, "ns": namespace}).first()
        if owner is not None:  # nothing is locked if there is no such subscription: find says so
            billing.remember_plan(uow, owner.plan_id, owner)
    return find(uow, namespace, subscription_id)


def create(uow: UnitOfWork, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    customer = customers.find(uow, actor.namespace, data["customerId"], field="customerId")
    plan = plans.find(uow, actor.namespace, data["plan"], field="plan")
    rules = plans.rules(plan)
    if customer.currency is not None and customer.currency != rules.currency:
        raise InvalidInput.on(
            "plan", f"the plan bills in {rules.currency} but the customer is billed in {customer.currency}"
        )
    uow.lock_customer(customer.id)
    if customer.currency is None:
        uow.conn.execute(update(customers_t).where(customers_t.c.id == customer.id).values(currency=rules.currency))
    start = utc_field(data["startAt"], "startAt") if data.get("startAt") else uow.now
    if start < uow.now - PAST_TOLERANCE:
        raise InvalidInput.on("startAt", "must not be in the past")
    trial_end = rules.trial.after(start) if rules.trial is not None else None
    paid_start = trial_end or start
    anchor = utc_field(data["billingAnchor"], "billingAnchor") if data.get("billingAnchor") else paid_start
    first_end = period_containing(anchor, rules.cadence, paid_start).end
    period = Period(start, trial_end) if trial_end is not None else Period(paid_start, first_end)
    sub_id = new_id()
    uow.conn.execute(
        insert(subscriptions).values(
            id=sub_id,
            namespace=actor.namespace,
            customer_id=customer.id,
            plan_id=plan.id,
            status="trialing" if trial_end is not None else "active",
            start_at=start,
            billing_anchor=anchor,
            trial_end=trial_end,
            period_start=period.start,
            period_end=period.end,
            next_billing_at=start,
            metadata=data.get("metadata"),
            created_at=uow.now,
            updated_at=uow.now,
        )
    )
    sub = find(uow, actor.namespace, sub_id)
    billing.new_gathering(uow, sub, rules, period)
    billing.record_subscription_event(uow, sub, "subscription.created", view(uow, sub))
    if start <= uow.now:
        billing.process_due(uow, actor, sub)
    return view(uow, find(uow, actor.namespace, sub_id))


def cancel(
    uow: UnitOfWork, actor: Actor, subscription_id: str, timing: Literal["immediate", "end_of_period"]
) -> dict[str, Any]:
    sub = find_locked(uow, actor.namespace, subscription_id)
    if sub.next_billing_at is not None and sub.next_billing_at <= uow.now:
        billing.process_due(uow, actor, sub)  # first what was already due
        sub = find(uow, actor.namespace, subscription_id)
    if sub.status == "ended":
        raise Conflict("the subscription has already ended", code="subscription_ended")
    if timing == "end_of_period":
        if sub.status == "canceled":
            return view(uow, sub)
        uow.conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub.id)
            .values(status="canceled", cancel_at=sub.period_end, canceled_at=uow.now, updated_at=uow.now)
        )
    elif sub.opened_at is None or sub.period_start >= uow.now:
        _discard_unstarted(uow, actor, sub)
    else:
        uow.conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub.id)
            .values(cancel_at=uow.now, canceled_at=uow.now, updated_at=uow.now)
        )
        billing.close_period(uow, actor, find(uow, actor.namespace, sub.id), at=uow.now)
    sub = find(uow, actor.namespace, sub.id)
    billing.record_subscription_event(uow, sub, "subscription.canceled", view(uow, sub))
    return view(uow, sub)


def _discard_unstarted(uow: UnitOfWork, actor: Actor, sub: Row[Any]) -> None:
    """A subscription canceled before its period began bills nothing: drop what it gathered."""
    inv = billing.gathering_invoice(uow, sub)
    uow.conn.execute(delete(item_quantities).where(item_quantities.c.invoice_id == inv.id))
    uow.conn.execute(delete(custom_charges).where(custom_charges.c.invoice_id == inv.id))
    lifecycle.fire_loaded(uow, actor, invoices.load(uow, inv.id), T.DELETE)
    uow.conn.execute(
        update(subscriptions)
        .where(subscriptions.c.id == sub.id)
        .values(
            status="ended",
            cancel_at=uow.now,
            canceled_at=uow.now,
            ended_at=uow.now,
            next_billing_at=None,
            updated_at=uow.now,
        )
    )


def get(uow: UnitOfWork, namespace: str, subscription_id: str) -> dict[str, Any]:
    return view(uow, find(uow, namespace, subscription_id))


def list_(uow: UnitOfWork, namespace: str, page: Page, *, customer: str | None = None) -> dict[str, Any]:
    q = select(subscriptions).where(subscriptions.c.namespace == namespace)
    if customer:
        q = q.where(subscriptions.c.customer_id == customers.find(uow, namespace, customer).id)
    return paginate(uow, q.order_by(subscriptions.c.id), page, lambda r: view(uow, r))
