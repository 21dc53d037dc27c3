"""The subscription period engine: open a subscription, close its periods, preview gathering.

A period ``[start, end)`` collects tracked item quantities and custom charges on its gathering
invoice. At ``end`` the gathering invoice gets its lines (arrears for the period it closes,
in-advance charges for the one it opens) and moves on through the lifecycle; the next period's
gathering invoice opens with the licensed quantities carried over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, select, update

from billhook.domain.catalog import CustomCharge, PlanRules
from billhook.domain.invoicing import LineDraft, advance_lines, arrears_lines, totals
from billhook.domain.lifecycle import S, T
from billhook.domain.periods import Period, period_containing
from billhook.events import outbox
from billhook.services import billable, invoices, lifecycle, plans, profiles
from billhook.services.common import Actor
from billhook.store.schema import custom_charges, item_quantities, subscriptions
from billhook.store.schema import invoices as invoices_t
from billhook.store.schema import plans as plans_t
from billhook.store.sql import among
from billhook.store.uow import UnitOfWork

CATCH_UP_LIMIT = 400  # periods closed in one go when the clock jumped far ahead


_PLAN = select(plans_t).where(plans_t.c.id == bindparam("id"))
_IS_GATHERING = (
    (invoices_t.c.subscription_id == bindparam("subscription_id"))
    & (invoices_t.c.kind == "period")
    & (invoices_t.c.period_start == bindparam("period_start"))
)
_GATHERING = select(invoices_t).where(_IS_GATHERING)
_REF_COLUMNS = "id namespace customer_id subscription_id kind currency status extended_status period_start period_end"
_GATHERING_REF = select(*(invoices_t.c[name] for name in _REF_COLUMNS.split())).where(_IS_GATHERING)


def plan_rules(uow: UnitOfWork, sub: Row[Any]) -> PlanRules:
    key = ("plan_rules", sub.plan_id)
    if key not in uow.memo:  # read once per transaction (plans.replace forgets it)
        uow.memo[key] = plans.rules(uow.conn.execute(_PLAN, {"id": sub.plan_id}).one())
    return uow.memo[key]  # type: ignore[return-value]


def remember_plan(uow: UnitOfWork, plan_id: str, plan: Row[Any]) -> None:
    """Keep for ``plan_rules`` a plan read ahead or along with something else (``plan`` has at least
    ``plans.RULE_COLUMNS``)."""
    if ("plan_rules", plan_id) not in uow.memo:
        uow.memo[("plan_rules", plan_id)] = plans.rules(plan)


def prefetch(uow: UnitOfWork, subs: Sequence[Row[Any]]) -> None:
    """Read ahead, for a chunk of subscriptions about to be processed, what closing each period would
    read by itself: their plans, gathering invoices, quantities, custom charges, lines, customers and
    profiles, a statement per table for the whole chunk. ``_take`` hands each out once."""
    due = [s for s in subs if s.next_billing_at is not None and s.period_end <= uow.now]
    if not due:
        return
    for row in uow.conn.execute(select(plans_t).where(among(uow.conn, plans_t.c.id, {s.plan_id for s in due}))):
        remember_plan(uow, row.id, row)
        uow.memo[("plan_key", row.id)] = row.key
    for s in due:  # for the billable hook's announcement, which shows it as it is before the close
        uow.memo[("subscription", s.id)] = s
    wanted = {(s.id, s.period_start) for s in due}
    found = [
        inv
        for inv in uow.conn.execute(
            select(invoices_t).where(
                among(uow.conn, invoices_t.c.subscription_id, [s.id for s in due]),
                invoices_t.c.kind == "period",
                invoices_t.c.period_start.in_({s.period_start for s in due}),
            )
        )
        if (inv.subscription_id, inv.period_start) in wanted
    ]
    ids = [inv.id for inv in found]
    qty: dict[str, dict[str, Decimal]] = {i: {} for i in ids}
    for r in uow.conn.execute(select(item_quantities).where(among(uow.conn, item_quantities.c.invoice_id, ids))):
        qty[r.invoice_id][r.item_key] = r.quantity
    extra: dict[str, list[CustomCharge]] = {i: [] for i in ids}
    for r in uow.conn.execute(
        select(custom_charges).where(among(uow.conn, custom_charges.c.invoice_id, ids)).order_by(custom_charges.c.id)
    ):
        extra[r.invoice_id].append(_charge(r))
    for inv in found:
        uow.memo[("gathering", inv.subscription_id, inv.period_start)] = inv
        uow.memo[("quantities", inv.id)] = qty[inv.id]
        uow.memo[("charges", inv.id)] = extra[inv.id]
        # A subscription's gathering invoice stores no lines: they are computed as its period closes
        # (pending lines gather on a manual invoice; Update Invoice refuses a period's gathering one).
        uow.memo[("lines", inv.id)] = []
    billable.prefetch(uow, ids)
    billable.prefetch_waiting(uow, {s.id for s in due})
    invoices.prefetch_customers(uow, {s.customer_id for s in due})
    for namespace in {s.namespace for s in due}:
        profiles.prefetch_in_force(uow, namespace, {s.customer_id for s in due if s.namespace == namespace})


def _take(uow: UnitOfWork, key: tuple[Any, ...]) -> Any:
    """What ``prefetch`` read for this key, once (a second look reads the database again)."""
    return uow.memo.pop(key, None)


def full_period(sub: Row[Any], rules: PlanRules, start: datetime) -> Period:
    """The whole cadence-aligned period that ``start`` falls in (for proration)."""
    return period_containing(sub.billing_anchor, rules.cadence, start)


def in_trial(sub: Row[Any], period_end: datetime) -> bool:
    return sub.trial_end is not None and period_end <= sub.trial_end


def gathering_invoice(uow: UnitOfWork, sub: Row[Any]) -> Row[Any]:
    prefetched = _take(uow, ("gathering", sub.id, sub.period_start))
    if prefetched is not None:
        return prefetched  # type: ignore[no-any-return]
    return uow.conn.execute(_GATHERING, {"subscription_id": sub.id, "period_start": sub.period_start}).one()


def gathering_ref(uow: UnitOfWork, sub: Row[Any]) -> Row[Any]:
    """The current period's gathering invoice, as much of it as an edit needs (identity, currency,
    status, period): its 45 columns cost a busy API more than the rest of Set Item Quantity's reads."""
    return uow.conn.execute(_GATHERING_REF, {"subscription_id": sub.id, "period_start": sub.period_start}).one()


def quantities(uow: UnitOfWork, invoice_id: str) -> dict[str, Decimal]:
    prefetched = _take(uow, ("quantities", invoice_id))
    if prefetched is not None:
        return prefetched  # type: ignore[no-any-return]
    rows = uow.conn.execute(
        select(item_quantities.c.item_key, item_quantities.c.quantity).where(item_quantities.c.invoice_id == invoice_id)
    )
    return {r.item_key: r.quantity for r in rows}


def charges(uow: UnitOfWork, invoice_id: str) -> list[CustomCharge]:
    prefetched = _take(uow, ("charges", invoice_id))
    if prefetched is not None:
        return prefetched  # type: ignore[no-any-return]
    rows = uow.conn.execute(
        select(custom_charges).where(custom_charges.c.invoice_id == invoice_id).order_by(custom_charges.c.id)
    )
    return [_charge(r) for r in rows]


def _charge(r: Row[Any]) -> CustomCharge:
    return CustomCharge(r.id, r.charge_code, r.quantity, r.each_amount, r.description)


def arrears_for(uow: UnitOfWork, sub: Row[Any], rules: PlanRules, inv: Row[Any]) -> list[LineDraft]:
    """The lines an invoice bills for the period it closes, from today's quantities and charges."""
    period = Period(inv.period_start, inv.period_end)
    return arrears_lines(
        rules,
        period,
        full_period(sub, rules, period.start),
        quantities(uow, inv.id),
        charges(uow, inv.id),
        trial=in_trial(sub, period.end),
    )


def new_gathering(uow: UnitOfWork, sub: Row[Any], rules: PlanRules, period: Period) -> str:
    return invoices.create(
        uow,
        namespace=sub.namespace,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        kind="period",
        currency=rules.currency,
        period=(period.start, period.end),
    )


def open_subscription(uow: UnitOfWork, actor: Actor, sub: Row[Any]) -> None:
    """At its start: bill the first in-advance charges (unless a trial comes first)."""
    rules = plan_rules(uow, sub)
    uow.conn.execute(update(subscriptions).where(subscriptions.c.id == sub.id).values(opened_at=uow.now))
    uow.memo.pop(("subscription", sub.id), None)  # what prefetch read is out of date from here on
    if sub.trial_end is not None:
        return  # the trial's closing invoice bills the first paid period in advance
    period = Period(sub.period_start, sub.period_end)
    lines = advance_lines(rules, period, full_period(sub, rules, period.start))
    if not lines:
        return
    invoice_id = invoices.create(
        uow,
        namespace=sub.namespace,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        kind="opening",
        currency=rules.currency,
        period=(period.start, period.end),
    )
    inv = invoices.write_lines(uow, invoices.load(uow, invoice_id), lines)
    lifecycle.fire_loaded(uow, actor, inv, T.INVOICE)


def close_period(uow: UnitOfWork, actor: Actor, sub: Row[Any], *, at: datetime | None = None) -> Row[Any]:
    """Close the subscription's current period (at its end, or ``at`` for an immediate cancel).

    Returns the subscription as it is afterwards. The caller holds the customer's lock.
    """
    rules = plan_rules(uow, sub)
    inv = gathering_invoice(uow, sub)
    end = at or sub.period_end
    if end != inv.period_end:
        uow.conn.execute(update(invoices_t).where(invoices_t.c.id == inv.id).values(period_end=end))
        inv = invoices.load(uow, inv.id)
    ending = at is not None or (sub.cancel_at is not None and sub.cancel_at <= end)
    lines = arrears_for(uow, sub, rules, inv)
    next_period = None
    if not ending:
        following = full_period(sub, rules, end)  # the whole period after this one (``end`` is its start)
        next_period = Period(end, following.end)
        lines += advance_lines(rules, next_period, following)
    totals, written = invoices.replace_lines(uow, inv, lines)
    # the workflow is snapshotted as the invoice leaves gathering: later profile changes don't touch it
    snapshot = invoices.snapshot(uow, inv.namespace, inv.customer_id)
    lifecycle.advance(uow, actor, inv, lines=written, changes=totals | snapshot)

    values: dict[str, Any] = {"updated_at": uow.now, "lease_owner": None, "lease_until": None}
    if next_period is None:
        values |= {"status": "ended", "ended_at": end, "next_billing_at": None}
    else:
        next_id = new_gathering(uow, sub, rules, next_period)
        _carry_licensed(uow, sub, rules, inv.id, next_id)
        values |= {
            "period_start": next_period.start,
            "period_end": next_period.end,
            "next_billing_at": next_period.end,
            "status": "canceled" if sub.cancel_at is not None else "active",
        }
    uow.memo.pop(("subscription", sub.id), None)  # what prefetch read is out of date from here on
    params = values | {"_id": sub.id}
    if uow.write_behind:  # sent with the chunk's; as it will be
        uow.buffer.update(_UPDATE_SUBSCRIPTION, params)
        return SimpleNamespace(**(_fields(sub) | values))  # type: ignore[return-value]
    return uow.conn.execute(_UPDATE_SUBSCRIPTION_RETURNING, params).one()


def _fields(row: Any) -> dict[str, Any]:
    return dict(row._mapping) if isinstance(row, Row) else dict(vars(row))


# The columns it sets come with the parameters (one statement, compiled once per set of columns).
_UPDATE_SUBSCRIPTION = update(subscriptions).where(subscriptions.c.id == bindparam("_id"))
_UPDATE_SUBSCRIPTION_RETURNING = _UPDATE_SUBSCRIPTION.returning(*subscriptions.c)


def _carry_licensed(uow: UnitOfWork, sub: Row[Any], rules: PlanRules, from_id: str, to_id: str) -> None:
    licensed = {i.key for i in rules.items if i.usage_type == "licensed"}
    if not licensed:
        return
    rows = [
        {"invoice_id": to_id, "item_key": k, "namespace": sub.namespace, "quantity": q, "updated_at": uow.now}
        for k, q in quantities(uow, from_id).items()
        if k in licensed and q != 0
    ]
    uow.insert(item_quantities, rows)


def process_due(uow: UnitOfWork, actor: Actor, sub: Row[Any]) -> int:
    """Do everything a subscription is due for by now; returns how many periods it closed."""
    closed = 0
    if sub.opened_at is None and sub.start_at <= uow.now:
        open_subscription(uow, actor, sub)
        sub = uow.conn.execute(select(subscriptions).where(subscriptions.c.id == sub.id)).one()
    while sub.next_billing_at is not None and sub.period_end <= uow.now and closed < CATCH_UP_LIMIT:
        sub = close_period(uow, actor, sub)
        closed += 1
    if sub.status == "ended":
        next_at = None
    elif sub.opened_at is None:
        next_at = sub.start_at
    else:
        next_at = sub.period_end
    if (sub.next_billing_at, sub.lease_owner, sub.lease_until) != (next_at, None, None):
        uow.conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub.id)
            .values(next_billing_at=next_at, lease_owner=None, lease_until=None)
        )
    return closed


def gathering_preview(uow: UnitOfWork, inv: Row[Any]) -> dict[str, Any]:
    """A gathering invoice as it would close now: its lines so far, computed, not stored."""
    sub = uow.conn.execute(select(subscriptions).where(subscriptions.c.id == inv.subscription_id)).one()
    rules = plan_rules(uow, sub)
    drafts = arrears_for(uow, sub, rules, inv)
    lines = [_preview_row(d, i, inv) for i, d in enumerate(drafts)]
    t = totals([d.amount for d in drafts], inv.currency)
    f = lifecycle.facts(uow, inv, line_count=len(drafts))
    return invoices.view(uow, inv, facts=f, lines=lines, line_totals=t)


def _preview_row(d: LineDraft, i: int, inv: Row[Any]) -> Any:
    return SimpleNamespace(
        id=f"{inv.id}-{i}",
        name=d.name,
        description=None,
        kind=d.kind,
        managed_by="subscription",
        key=d.key,
        period_start=d.period.start,
        period_end=d.period.end,
        invoice_at=d.invoice_at,
        price=d.price.to_wire() if d.price else None,
        quantity=d.quantity,
        included=d.included,
        amount=d.amount,
        custom_charge_id=d.custom_charge_id,
        metadata=None,
        external_invoicing_id=None,
        created_at=inv.created_at,
        updated_at=inv.updated_at,
    )


def invoice_view(uow: UnitOfWork, inv: Row[Any]) -> dict[str, Any]:
    if inv.extended_status == S.GATHERING and inv.subscription_id is not None:
        return gathering_preview(uow, inv)
    return lifecycle.view(uow, inv)


def record_subscription_event(uow: UnitOfWork, sub: Row[Any], type_: str, data: dict[str, Any]) -> None:
    outbox.record(uow, sub.namespace, type_, sub.id, data)
