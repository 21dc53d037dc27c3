"""Random walks through the invoice lifecycle, checking its invariants after every step.

Hypothesis drives the services layer (no HTTP) of a namespace with the Custom Invoicing app:
invoices from pending lines and from a subscription's periods, then any trigger, sync result,
payment status, Update Invoice, hook toggle or clock move, in any order. A refused call
(Conflict / InvalidInput) must change nothing at all; any other exception is a bug (a 500).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select

from billhook.config import Settings
from billhook.domain.lifecycle import S
from billhook.domain.money import fmt
from billhook.runtime import Runtime
from billhook.services import (
    custom_invoicing,
    invoice_edit,
    invoice_queries,
    invoices,
    items,
    outstanding,
    overrides,
    pending_lines,
    periods,
)
from billhook.store import schema
from tests.conftest import CLOCK_START, TEAM_PLAN, postgres_database
from tests.lifecycle.support import REFUSALS, Watch, World, all_invoices, check_world, dump, make_world, manual_line

PRICES = st.sampled_from(["10", "19.99", "0.3333", "1234.5678", "0.005", "7", "0.015"])
QUANTITIES = st.sampled_from(["1", "2", "1.5", "0.333", "3", "12.5"])
CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])
LINES = st.lists(st.tuples(PRICES, QUANTITIES), min_size=1, max_size=3)
WORKFLOWS = st.fixed_dictionaries(
    {
        "autoAdvance": st.booleans(),
        "draftPeriod": st.sampled_from(["P0D", "PT1H", "P1D"]),
        "dueAfter": st.sampled_from(["P30D", "P2D"]),
    }
)
PICK = st.integers(min_value=0, max_value=10_000)
CLOCK_MOVES = st.sampled_from(["PT30M", "PT2H", "P1D", "P3D", "P12D", "P1M"])
WAITING = {S.DRAFT_WAITING_AUTO_APPROVAL, S.DRAFT_MANUAL_APPROVAL_NEEDED, S.DRAFT_INVALID, S.PAYMENT_FAILED}
DRAFTS = {s for s in S if s.short == "draft"}
ISSUED_ON = {S.PAYMENT_PENDING, S.PAYMENT_FAILED, S.PAYMENT_ACTION_REQUIRED, S.OVERDUE, S.UNCOLLECTIBLE}
NUMBERS = st.sampled_from(["none", "own", "none", "own", "sequence_shape", "taken"])
PAYMENT_TRIGGERS = st.sampled_from(sorted(custom_invoicing.PAYMENT_TRIGGERS))


def wipe(rt: Runtime) -> None:
    """An empty database (schema kept) whose test clock starts again at CLOCK_START."""
    with rt.engine.begin() as conn:
        for t in reversed(schema.metadata.sorted_tables):
            conn.execute(delete(t))
    with rt.uows.write():
        pass  # the clock row again


class LifecycleMachine(RuleBasedStateMachine):
    runtime: ClassVar[Runtime]

    def __init__(self) -> None:
        super().__init__()
        wipe(self.runtime)
        self.watch = Watch()
        self.w: World
        self.acme = ""
        self.globex = ""
        self.sub_id: str | None = None
        self.serial = 0
        self.ready = False

    # ------------------------------------------------------------------------------------ helpers

    def attempt(self, fn: Any, *args: Any, integration: bool = False) -> bool:
        """Call a use case as one request; when it is refused, nothing may have changed."""
        ns = self.w.namespace
        before = self.w.read(lambda uow: dump(uow, ns))
        try:
            self.w.write(fn, *args, actor=self.w.integration if integration else self.w.api)
        except REFUSALS as exc:
            note(f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__} refused: {exc.code}: {exc}")
            assert self.w.read(lambda uow: dump(uow, ns)) == before, f"{fn.__name__} was refused but changed data"
            return False
        note(f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__} done")
        return True

    def pick(self, i: int, prefer: Collection[str] = (), odds: int = 2) -> str:
        """One of acme's invoices; one time in ``odds``, one in a ``prefer`` state when there is one."""
        rows = self.w.read(lambda uow: [r for r in all_invoices(uow, self.w.namespace) if r.customer_id == self.acme])
        preferred = [r for r in rows if r.extended_status in prefer]
        if preferred and i % odds == 0:
            rows = preferred
        return str(rows[(i // odds) % len(rows)].id)

    def lines_of(self, invoice_id: str) -> list[Any]:
        return self.w.read(lambda uow: invoices.stored_lines(uow, invoice_id))

    def number(self, mode: str) -> str | None:
        """An invoice number an integration might send: none, its own, billhook's shape, or one in use."""
        self.serial += 1
        if mode == "own":
            return f"EXT-{self.serial:04d}"
        if mode == "sequence_shape":
            return "INV-000001"
        if mode == "taken":
            taken = self.w.read(lambda uow: [r.number for r in all_invoices(uow, self.w.namespace)])
            return taken[self.serial % len(taken)]
        return None

    # ------------------------------------------------------------------------------------ set-up

    @initialize(
        draft_hook=st.booleans(),
        issuing_hook=st.booleans(),
        workflow=WORKFLOWS,
        subscribe=st.booleans(),
        first=LINES,
        currency=CURRENCIES,
    )
    def setup(
        self,
        draft_hook: bool,
        issuing_hook: bool,
        workflow: dict[str, Any],
        subscribe: bool,
        first: list[tuple[str, str]],
        currency: str,
    ) -> None:
        self.w = make_world(self.runtime, draft_hook=draft_hook, issuing_hook=issuing_hook)
        self.acme = self.w.add_customer("acme", {"invoicing": workflow})
        self.globex = self.w.add_customer("globex", custom=False)  # the default (sandbox) profile
        if subscribe:
            self.sub_id = self.w.subscribe(self.acme, TEAM_PLAN)
        self.w.invoice_lines_now(self.acme, first, currency)
        self.ready = True

    # ------------------------------------------------------------------------------------ invoices

    @rule(lines=LINES, currency=CURRENCIES)
    def invoice_now(self, lines: list[tuple[str, str]], currency: str) -> None:
        self.w.invoice_lines_now(self.acme, lines, currency)

    @rule(lines=LINES, later=st.sampled_from([timedelta(hours=1), timedelta(days=2)]))
    def pending_lines_due_later(self, lines: list[tuple[str, str]], later: timedelta) -> None:
        now = self.w.now() + later
        raw = [manual_line(f"later {i}", p, q, now) for i, (p, q) in enumerate(lines)]
        assert self.attempt(pending_lines.create, self.acme, {"currency": "EUR", "lines": raw})

    @rule(lines=LINES)
    def invoice_on_default_profile(self, lines: list[tuple[str, str]]) -> None:
        self.w.invoice_lines_now(self.globex, lines)

    # ------------------------------------------------------------------------------------ actions

    @rule(i=PICK, action=st.sampled_from(["approve", "advance", "retry"]))
    def act(self, i: int, action: str) -> None:
        self.attempt(invoice_queries.act, self.pick(i, WAITING), action)

    @rule(i=PICK)
    def void(self, i: int) -> None:
        self.attempt(invoice_queries.void, self.pick(i, ISSUED_ON), {})

    @rule(i=PICK)
    def delete(self, i: int) -> None:
        self.attempt(invoice_queries.delete, self.pick(i, DRAFTS, odds=4))

    @precondition(lambda self: self.sub_id is not None)
    @rule()
    def run_outstanding(self) -> None:
        self.attempt(outstanding.run, self.sub_id)

    @precondition(lambda self: self.sub_id is not None)
    @rule(period=st.sampled_from(["current", "outstanding"]), quantity=st.sampled_from(["0", "4", "25.5", "130"]))
    def set_storage(self, period: str, quantity: str) -> None:
        self.attempt(items.change, self.sub_id, "storage_gb", "set", quantity, periods.Address.of(period, None))

    # ------------------------------------------------------------------------------------ the integration

    @rule(
        i=PICK,
        which=st.sampled_from(["all", "all", "some", "none", "bogus"]),
        number=NUMBERS,
    )
    def draft_sync(self, i: int, which: str, number: str) -> None:
        invoice_id = self.pick(i, {S.DRAFT_SYNCING})
        ids = [r.id for r in self.lines_of(invoice_id)]
        if which == "some":
            ids = ids[:1]
        elif which == "none":
            ids = []
        elif which == "bogus":
            ids = [*ids, "01BOGUS0000000000000000000"]
        self.serial += 1
        result: dict[str, Any] = {
            "externalId": f"ext-{self.serial}",
            "lineExternalIds": [{"lineId": x, "externalId": f"ext-line-{x}"} for x in ids],
        }
        if (n := self.number(number)) is not None:
            result["invoiceNumber"] = n
        ok = self.attempt(custom_invoicing.draft_synchronized, invoice_id, {"invoicing": result}, integration=True)
        assert not (ok and which == "bogus"), "a draft sync naming a line the invoice does not have was accepted"

    @rule(i=PICK, number=NUMBERS, sent=st.booleans())
    def issuing_sync(self, i: int, number: str, sent: bool) -> None:
        invoicing: dict[str, Any] = {}
        if (n := self.number(number)) is not None:
            invoicing["invoiceNumber"] = n
        if sent:
            invoicing["sentToCustomerAt"] = self.w.now()
        data = {"invoicing": invoicing, "payment": {"externalId": f"pay-{self.serial}"}}
        self.attempt(custom_invoicing.issuing_synchronized, self.pick(i, {S.ISSUING_SYNCING}), data, integration=True)

    @rule(i=PICK, trigger=PAYMENT_TRIGGERS)
    def payment_status(self, i: int, trigger: str) -> None:
        self.attempt(custom_invoicing.payment_status, self.pick(i, ISSUED_ON), trigger, integration=True)

    # ------------------------------------------------------------------------------------ Update Invoice

    @rule(
        i=PICK,
        j=PICK,
        op=st.sampled_from(["price", "quantity", "add", "remove", "same", "bogus_id", "bad_price"]),
        price=PRICES,
        quantity=QUANTITIES,
    )
    def update_invoice(self, i: int, j: int, op: str, price: str, quantity: str) -> None:
        invoice_id = self.pick(i, DRAFTS)
        rows = self.lines_of(invoice_id)
        lines = [
            {
                "id": r.id,
                "name": r.name,
                "period": {"from": r.period_start, "to": r.period_end},
                "invoiceAt": r.invoice_at,
                "price": r.price,
                "quantity": fmt(r.quantity),
            }
            for r in rows
        ]
        now = self.w.now()
        if op == "bogus_id":
            lines.append({**manual_line("ghost", price, quantity, now), "id": "01BOGUS0000000000000000000"})
        elif op == "bad_price":
            lines.append(manual_line("bad", "a lot", quantity, now))
        elif op == "add" or not lines:
            lines.append(manual_line("added", price, quantity, now))
        elif op == "remove":
            del lines[j % len(lines)]
        elif op == "price" and (lines[j % len(lines)]["price"] or {}).get("type") in ("flat", "unit"):
            line = lines[j % len(lines)]
            line["price"] = {**line["price"], "amount": price}
        elif op == "quantity":
            lines[j % len(lines)]["quantity"] = quantity
        ok = self.attempt(invoice_edit.replace, invoice_id, {"lines": lines})
        assert not (ok and op in ("bogus_id", "bad_price")), f"Update Invoice accepted {op}"

    # ------------------------------------------------------------------------------------ settings and time

    @rule(draft=st.booleans(), issuing=st.booleans())
    def toggle_hooks(self, draft: bool, issuing: bool) -> None:
        self.w.set_hooks(draft, issuing)

    @rule(workflow=WORKFLOWS)
    def change_override(self, workflow: dict[str, Any]) -> None:
        assert self.attempt(
            overrides.upsert, self.acme, {"billingProfileId": self.w.profile_id, "workflow": {"invoicing": workflow}}
        )

    @rule(by=CLOCK_MOVES)
    def move_clock(self, by: str) -> None:
        self.w.advance_clock(by)
        self.w.drain()

    # ------------------------------------------------------------------------------------ invariants

    @invariant()
    def invariants_hold(self) -> None:
        if self.ready:
            self.w.read(lambda uow: check_world(uow, self.w.namespace, self.watch))

    @invariant()
    def subscription_periods_once(self) -> None:
        if not self.ready or self.sub_id is None:
            return
        rows = self.w.read(
            lambda uow: uow.conn.execute(
                select(schema.invoices.c.kind, schema.invoices.c.period_start).where(
                    schema.invoices.c.subscription_id == self.sub_id
                )
            ).all()
        )
        assert len(rows) == len(set(rows)), "a subscription period was invoiced twice"


RUN = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(params=["sqlite", "postgresql"])
def lane(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Runtime]:
    """One runtime per lane; each example starts from an empty database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'lifecycle.db'}"
        rt = Runtime.start(Settings(database_url=url, test_clock=True, test_clock_start=CLOCK_START))
        try:
            yield rt
        finally:
            rt.close()
        return
    for url in postgres_database():
        rt = Runtime.start(Settings(database_url=url, test_clock=True, test_clock_start=CLOCK_START))
        try:
            yield rt
        finally:
            rt.close()


def test_lifecycle_invariants_hold_on_random_walks(lane: Runtime) -> None:
    machine = type("Machine", (LifecycleMachine,), {"runtime": lane})
    run_state_machine_as_test(machine, settings=RUN)
