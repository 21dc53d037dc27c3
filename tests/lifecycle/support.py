"""Shared set-up and checks for the lifecycle tests: everything goes through the services layer.

A "world" is a namespace with the Custom Invoicing app installed, a billing profile that uses it,
and customers pinned to that profile by an override. Invoices come from pending lines invoiced
now, or from a subscription whose periods close as the test clock moves.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select

from billhook.domain import lifecycle as table
from billhook.domain.invoicing import totals
from billhook.domain.lifecycle import Facts, S
from billhook.domain.money import money_str, round_money
from billhook.errors import Conflict, InvalidInput
from billhook.runtime import Runtime
from billhook.services import (
    apps,
    billable,
    billing,
    customers,
    invoices,
    overrides,
    pending_lines,
    plans,
    profiles,
    subscriptions,
    test_clock,
)
from billhook.services.common import Actor, duration_field
from billhook.store import schema
from billhook.store.clock import StoredTestClock
from billhook.store.uow import UnitOfWork
from billhook.worker.loop import Worker

# Transient states: "next" always moves on from them, so no committed step may leave an invoice there.
TRANSIENT = {S.DRAFT_CREATED, S.DRAFT_VALIDATING, S.DRAFT_READY_TO_ISSUE, S.ISSUED}
# From here on the number is final (issuing.syncing may still take the integration's number).
NUMBER_FINAL = {s for s in table.IMMUTABLE if s.short not in ("issuing", "deleted")}
SEQUENCE_NUMBER = re.compile(r"^(INV(?:-[0-9A-Z]{26})?)-(\d{6,})$")
REFUSALS = (Conflict, InvalidInput)


class StrictWorker(Worker):
    """A worker that lets a failure surface instead of logging it and retrying after the lease."""

    def _safely(self, fn: Any, row_id: str, namespace: str) -> None:
        fn(row_id, namespace)


@dataclass
class World:
    rt: Runtime
    namespace: str
    app_id: str
    profile_id: str
    api: Actor
    integration: Actor
    customers: list[str] = field(default_factory=list)

    def write(self, fn: Callable[..., Any], *args: Any, actor: Actor | None = None) -> Any:
        """One request: a unit of work that commits when ``fn`` returns and rolls back when it raises."""
        with self.rt.uows.write() as uow:
            return fn(uow, actor or self.api, *args)

    def read(self, fn: Callable[[UnitOfWork], Any]) -> Any:
        with self.rt.uows(readonly=True) as uow:
            return fn(uow)

    def now(self) -> datetime:
        return self.read(lambda uow: uow.now)

    def set_hooks(self, draft: bool, issuing: bool) -> None:
        data = {"name": "Custom Invoicing", "enableDraftSyncHook": draft, "enableIssuingSyncHook": issuing}
        self.write(apps.replace, self.app_id, data)

    def add_customer(self, key: str, workflow: dict[str, Any] | None = None, *, custom: bool = True) -> str:
        customer_id: str = self.write(customers.create, {"key": key, "name": key.title()})["id"]
        if custom:
            data: dict[str, Any] = {"billingProfileId": self.profile_id}
            if workflow:
                data["workflow"] = workflow
            self.write(overrides.upsert, customer_id, data)
        self.customers.append(customer_id)
        return customer_id

    def invoice_lines_now(self, customer_id: str, lines: list[tuple[str, str]], currency: str = "EUR") -> str:
        """Pending lines ``(price, quantity)`` for the customer, invoiced at once; the new invoice's id."""
        now = self.now()
        raw = [manual_line(f"fee {i}", price, qty, now) for i, (price, qty) in enumerate(lines)]
        self.write(pending_lines.create, customer_id, {"currency": currency, "lines": raw})
        out = self.write(pending_lines.invoice_now, {"customerId": customer_id})
        assert len(out) == 1
        return str(out[0]["id"])

    def advance_clock(self, by: str) -> None:
        """Jump the test clock (not a walk): what falls due is left for ``drain`` or a test's own steps."""
        assert isinstance(self.rt.clock, StoredTestClock)
        with self.rt.uows.write() as uow:
            now = datetime.fromisoformat(test_clock.show(uow)["now"])
            self.rt.clock.set(uow.conn, duration_field(by, "by").after(now))

    def drain(self) -> None:
        worker = StrictWorker(self.rt.uows, name="lifecycle-test")
        try:
            assert worker.drain(timeout=60), "the worker did not drain"
        finally:
            worker.close()

    def subscribe(self, customer_id: str, plan: dict[str, Any]) -> str:
        if not self.read(lambda uow: _plan_exists(uow, self.namespace, plan["key"])):
            self.write(plans.create, plan)
        return str(self.write(subscriptions.create, {"customerId": customer_id, "plan": plan["key"]})["id"])


def _plan_exists(uow: UnitOfWork, namespace: str, key: str) -> bool:
    q = select(schema.plans.c.id).where(schema.plans.c.namespace == namespace, schema.plans.c.key == key)
    return uow.conn.execute(q).first() is not None


def manual_line(name: str, price: str, quantity: str, now: datetime) -> dict[str, Any]:
    return {
        "name": name,
        "period": {"from": now - timedelta(days=1), "to": now},
        "invoiceAt": now,
        "price": {"type": "flat", "amount": price},
        "quantity": quantity,
    }


def make_world(
    rt: Runtime, namespace: str = "default", *, draft_hook: bool = False, issuing_hook: bool = False
) -> World:
    api = Actor(namespace, "api_key:lifecycle")
    with rt.uows.write() as uow:
        app = apps.create(uow, namespace, apps.CUSTOM_INVOICING)
        profile = profiles.create_for_app(uow, api, app)
        uow.commit()
    world = World(rt, namespace, app.id, profile["id"], api, Actor(namespace, "integration:lifecycle"))
    world.set_hooks(draft_hook, issuing_hook)
    return world


# ------------------------------------------------------------------------------------------- state


def dump(uow: UnitOfWork, namespace: str) -> dict[str, Any]:
    """Everything a refused call must leave as it was."""
    out: dict[str, Any] = {}
    for t in (
        schema.invoices,
        schema.invoice_lines,
        schema.invoice_transitions,
        schema.item_quantities,
        schema.custom_charges,
        schema.subscriptions,
        schema.number_sequences,
        schema.apps,
        schema.customer_overrides,
    ):
        q = select(t).where(t.c.namespace == namespace).order_by(*t.primary_key.columns)
        out[t.name] = [repr(tuple(r)) for r in uow.conn.execute(q)]
    out["events"] = uow.conn.execute(
        select(func.count()).select_from(schema.events).where(schema.events.c.namespace == namespace)
    ).scalar_one()
    return out


def all_invoices(uow: UnitOfWork, namespace: str) -> list[Row[Any]]:
    q = select(schema.invoices).where(schema.invoices.c.namespace == namespace)
    return list(uow.conn.execute(q.order_by(schema.invoices.c.created_at, schema.invoices.c.id)))


def history(uow: UnitOfWork, invoice_id: str) -> list[Row[Any]]:
    q = select(schema.invoice_transitions).where(schema.invoice_transitions.c.invoice_id == invoice_id)
    return list(uow.conn.execute(q.order_by(schema.invoice_transitions.c.seq)))


def own_facts(uow: UnitOfWork, inv: Row[Any], line_count: int) -> Facts:
    """The lifecycle's facts, read here independently of services.lifecycle.facts."""
    app = apps.load(uow, inv.invoicing_app_id)
    payment = apps.load(uow, inv.payment_app_id)
    custom = app is not None and app.type == apps.CUSTOM_INVOICING
    older_held = (
        S(inv.extended_status) == S.DRAFT_OUTSTANDING
        and inv.kind == "period"
        and uow.conn.execute(
            select(schema.invoices.c.id).where(
                schema.invoices.c.subscription_id == inv.subscription_id,
                schema.invoices.c.kind == "period",
                schema.invoices.c.extended_status == S.DRAFT_OUTSTANDING.value,
                schema.invoices.c.period_start < inv.period_start,
            )
        ).first()
        is not None
    )
    return Facts(
        now=uow.now,
        period_ended=inv.period_end <= uow.now,
        has_lines=line_count > 0,
        billable_hold_released=S(inv.extended_status) != S.DRAFT_OUTSTANDING or billable.hold(uow, inv).released,
        older_held=older_held,
        critical_issues=any(i["severity"] == "critical" for i in inv.validation_issues),
        draft_sync_hook=custom and app.enable_draft_sync_hook,
        draft_synced=inv.draft_synced_at is not None,
        issuing_sync_hook=custom and app.enable_issuing_sync_hook,
        auto_advance=inv.workflow["invoicing"]["autoAdvance"],
        draft_until=inv.draft_until,
        auto_settle=payment is None or payment.type == apps.SANDBOX,
        due_at=inv.due_at,
    )


def line_key(r: Any) -> tuple[Any, ...]:
    return (r.id, r.kind, r.key, r.name, str(r.quantity), str(r.amount), repr(r.price), r.period_start, r.period_end)


@dataclass
class Frozen:
    lines: list[tuple[Any, ...]]
    totals: tuple[Any, ...]


@dataclass
class Watch:
    """What must never change once seen: lines and amounts from ready-to-issue on, the number from issued on."""

    frozen: dict[str, Frozen] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    final: dict[str, int] = field(default_factory=dict)  # invoices checked in a final state, at this version


def _stored_totals(inv: Row[Any]) -> tuple[Any, ...]:
    return (inv.amount, inv.charges_total, inv.discounts_total, inv.credits_total, inv.taxes_total, inv.total)


def check_invoice(uow: UnitOfWork, inv: Row[Any], watch: Watch) -> None:
    state = S(inv.extended_status)
    assert inv.status == state.short, (inv.id, inv.status, state)
    assert state not in TRANSIENT, (inv.id, state)
    rows = invoices.stored_lines(uow, inv.id)
    cur = inv.currency

    # totals are the sum of the lines, each rounded to the currency's minor unit
    amounts = [r.amount for r in rows]
    assert all(round_money(a, cur) == a for a in amounts), (inv.id, amounts)
    expected = totals([round_money(a, cur) for a in amounts], cur)
    assert inv.total == round_money(sum(amounts, Decimal(0)), cur), (inv.id, inv.total, amounts)
    assert (inv.amount, inv.credits_total, inv.total) == (expected.amount, expected.credits_total, expected.total)

    # the wire view; skipped for a final invoice already seen at this version (nothing about it can move)
    if watch.final.get(inv.id) != inv.version:
        check_view(uow, inv, len(rows))
        if state in table.FINAL:
            watch.final[inv.id] = inv.version

    # from issued on, lines, amounts and number never change
    if state in table.IMMUTABLE:
        snap = Frozen([line_key(r) for r in rows], _stored_totals(inv))
        seen = watch.frozen.setdefault(inv.id, snap)
        assert seen == snap, f"invoice {inv.id} changed after it became immutable ({state.value})"
    if state in NUMBER_FINAL:
        assert not inv.number.startswith("DRAFT-"), (inv.id, inv.number, state)
        assert watch.numbers.setdefault(inv.id, inv.number) == inv.number, (inv.id, inv.number)

    # every status change is recorded: one row per version, consecutive, with trigger, actor and time
    seqs = [h.seq for h in history(uow, inv.id)]
    assert seqs == list(range(2, inv.version + 1)), (inv.id, inv.version, seqs)
    hist = invoices.history(uow, inv.id)  # what the API shows
    chain = [S.GATHERING.value] + [h["to"] for h in hist]
    assert [h["from"] for h in hist] == chain[:-1], (inv.id, chain)
    assert chain[-1] == state.value
    for h in hist:
        assert h["trigger"] and h["at"] is not None, h
        assert h["actor"].split(":", 1)[0] in ("api_key", "integration", "worker"), h
        assert _in_table(h), f"history of {inv.id} records a move the table does not have: {h}"
    ats = [datetime.fromisoformat(h["at"]) for h in hist]
    assert ats == sorted(ats) and (not ats or ats[-1] <= uow.now)
    # ... and emits invoice.updated (written in the same transaction: each committed step shows both or neither)
    ev = uow.conn.execute(
        select(schema.events.c.data).where(
            schema.events.c.subject_id == inv.id, schema.events.c.type == "invoice.updated"
        )
    ).scalars()
    assert Counter(d["statusDetails"]["extendedStatus"] for d in ev) == Counter(h["to"] for h in hist), inv.id


def check_view(uow: UnitOfWork, inv: Row[Any], line_count: int) -> None:
    """The Invoice resource: totals that add up, the status, and the actions the table allows now."""
    state, cur = S(inv.extended_status), inv.currency
    view = billing.invoice_view(uow, inv)
    line_sum = sum((Decimal(ln["totals"]["total"]) for ln in view["lines"]), Decimal(0))
    assert view["totals"]["total"] == money_str(line_sum, cur), (inv.id, view["totals"], line_sum)

    details = view["statusDetails"]
    assert details["extendedStatus"] == state.value
    if state == S.DELETED:  # OpenMeter has no "deleted" status: it shows the one it was deleted from
        assert view["status"] == S(history(uow, inv.id)[-1].from_status).short
    else:
        assert view["status"] == state.short
    assert details["immutable"] == (state in table.IMMUTABLE)
    if state == S.GATHERING and inv.subscription_id is not None:
        return  # a subscription's gathering invoice is a preview of computed lines
    facts = own_facts(uow, inv, line_count)
    assert details["availableActions"] == table.available_actions(state, facts), (inv.id, state, facts)
    # an invoice never rests where "next" would move it, unless the worker is due to look at it
    if state != S.GATHERING and table.find(state, table.T.NEXT, facts) is not None:
        assert inv.next_action_at is not None and inv.next_action_at <= uow.now, (
            f"invoice {inv.id} is stuck in {state.value}: next would move it but nothing will fire it"
        )


def _in_table(h: Any) -> bool:
    """Some row of the table leads from ``from`` to ``to`` on ``trigger`` (whatever its guard)."""
    return any(
        (row.source.value, row.trigger.value, row.target.value) == (h["from"], h["trigger"], h["to"])
        for row in table.TABLE
    )


def check_numbers(uow: UnitOfWork, namespace: str) -> None:
    """Numbers unique in the namespace; billhook's own numbers gap-free, one sequence per profile."""
    rows = all_invoices(uow, namespace)
    numbers = [r.number for r in rows]
    assert len(numbers) == len(set(numbers)), Counter(n for n in numbers if numbers.count(n) > 1)
    by_prefix: dict[str, list[tuple[int, str | None]]] = {}
    for r in rows:
        m = SEQUENCE_NUMBER.match(r.number)
        if m:
            by_prefix.setdefault(m.group(1), []).append((int(m.group(2)), r.profile_id))
    profiles_seen: set[str | None] = set()
    for prefix, taken in by_prefix.items():
        assert sorted(n for n, _ in taken) == list(range(1, len(taken) + 1)), (prefix, sorted(taken))
        owners = {p for _, p in taken}
        assert len(owners) == 1, f"{prefix} numbers come from several profiles: {owners}"
        assert not owners & profiles_seen, f"profile {owners} numbers with two prefixes"
        profiles_seen |= owners


def check_world(uow: UnitOfWork, namespace: str, watch: Watch) -> None:
    for inv in all_invoices(uow, namespace):
        check_invoice(uow, inv, watch)
    check_numbers(uow, namespace)


def transitions(uow: UnitOfWork, invoice_id: str) -> list[tuple[str, str, str]]:
    return [(h.from_status, h.to_status, h.trigger) for h in history(uow, invoice_id)]
