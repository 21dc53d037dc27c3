"""Real races on PostgreSQL: threads, each with its own unit of work, started together by a barrier.

Whatever the interleaving, an invoice takes one transition at a time: it is issued exactly once,
a payment status lands once, and an edit racing a draft sync ends in one of the two serial
orders, with a history that shows exactly the steps of that order. Each race is repeated on
fresh invoices so that several interleavings get their chance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from billhook.config import Settings
from billhook.domain.lifecycle import S
from billhook.domain.money import fmt
from billhook.errors import Conflict, InvalidInput
from billhook.runtime import Runtime
from billhook.services import (
    billing,
    custom_invoicing,
    invoice_edit,
    invoice_queries,
    invoices,
    items,
    outstanding,
    periods,
    subscriptions,
)
from billhook.services.common import iso
from tests.conftest import CLOCK_START, TEAM_PLAN
from tests.lifecycle.support import StrictWorker, Watch, World, check_world, make_world, transitions

pytestmark = pytest.mark.slow

REPEATS = 5
WAIT_A_DAY = {"invoicing": {"autoAdvance": True, "draftPeriod": "P1D"}}
NO_WAIT = {"invoicing": {"autoAdvance": True, "draftPeriod": "P0D"}}


@pytest.fixture
def rt(pg_url: str) -> Iterator[Runtime]:
    runtime = Runtime.start(Settings(database_url=pg_url, test_clock=True, test_clock_start=CLOCK_START))
    yield runtime
    runtime.close()


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each result is its return value or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(k: int) -> None:
        barrier.wait()
        try:
            results[k] = calls[k]()
        except BaseException as exc:  # reported below, with the others
            results[k] = exc

    threads = [threading.Thread(target=run, args=(k,), name=f"race-{k}") for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racer is still running after 120 s: a deadlock?"
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, Conflict | InvalidInput):
            raise AssertionError(f"a racer failed with {type(r).__name__}: {r}") from r
    return results


def worker_racer(world: World, rep: int) -> Callable[[], Any]:
    """The worker's side of a race: a whole run_once, or (every other time) the processing of what it
    claimed just before the race, so that it also gets the head start of holding the leases."""
    worker = StrictWorker(world.rt.uows, name=f"racer-{rep}")
    claimed = worker.claim_invoices() if rep % 2 else None

    def run() -> Any:
        try:
            if claimed is None:
                return worker.run_once()
            for invoice_id, namespace in claimed:
                worker.process_invoice(invoice_id, namespace)
            return len(claimed)
        finally:
            worker.close()

    return run


def approve_each(world: World, invoice_ids: list[str]) -> list[Any]:
    out: list[Any] = []
    for invoice_id in invoice_ids:
        try:
            out.append(world.write(invoice_queries.act, invoice_id, "approve")["statusDetails"]["extendedStatus"])
        except Conflict as exc:
            out.append(exc)
    return out


def state_of(world: World, invoice_id: str) -> Any:
    return world.read(lambda uow: invoices.load(uow, invoice_id))


def history(world: World, invoice_id: str) -> list[tuple[str, str, str]]:
    return world.read(lambda uow: transitions(uow, invoice_id))


def assert_issued_once(world: World, invoice_id: str) -> None:
    steps = history(world, invoice_id)
    into = [to for _, to, _ in steps]
    assert into.count(S.DRAFT_READY_TO_ISSUE.value) == 1, steps
    assert into.count(S.ISSUED.value) == 1, steps
    assert into.count(S.PAYMENT_PENDING.value) == 1, steps
    inv = state_of(world, invoice_id)
    assert inv.extended_status == S.PAYMENT_PENDING.value
    assert inv.number.startswith("INV-") and inv.version == len(steps) + 1


def test_approve_races_the_auto_advance(rt: Runtime) -> None:
    """Approve (Run) and the worker's auto-advance after draftUntil: each invoice is issued exactly once."""
    world = make_world(rt)
    watch = Watch()
    for rep in range(REPEATS):
        ids = []
        for k in range(3):
            customer = world.add_customer(f"approve-{rep}-{k}", WAIT_A_DAY)
            ids.append(world.invoice_lines_now(customer, [("10", "1"), ("0.3333", "3")]))
        assert {state_of(world, i).extended_status for i in ids} == {S.DRAFT_WAITING_AUTO_APPROVAL.value}
        world.advance_clock("P1D")  # draftUntil passes: the worker may now advance them too

        race(worker_racer(world, rep), lambda ids=ids: approve_each(world, list(reversed(ids))))
        world.drain()

        for invoice_id in ids:
            assert_issued_once(world, invoice_id)
            steps = history(world, invoice_id)
            ready = next(s for s in steps if s[1] == S.DRAFT_READY_TO_ISSUE.value)
            assert ready[2] in ("approve", "next"), steps
        world.read(lambda uow: check_world(uow, world.namespace, watch))


def test_run_outstanding_races_the_auto_advance(rt: Runtime) -> None:
    """Run Outstanding Invoice, the approve action and the worker, all three at once on a closed period."""
    world = make_world(rt)
    watch = Watch()
    for rep in range(REPEATS):
        customer = world.add_customer(f"run-{rep}", WAIT_A_DAY)
        sub_id = world.subscribe(customer, TEAM_PLAN)
        world.advance_clock("P1D")
        world.drain()  # the opening invoice is issued
        world.advance_clock("P1M")
        world.drain()  # the first period closes: its invoice waits a day
        inv = world.read(lambda uow, s=sub_id: periods.latest_closed(uow, subscriptions.find(uow, world.namespace, s)))
        assert inv.extended_status == S.DRAFT_WAITING_AUTO_APPROVAL.value
        world.advance_clock("P1D")

        def run_it(s: str = sub_id) -> Any:
            return world.write(outstanding.run, s)

        race(worker_racer(world, rep), run_it, lambda i=inv.id: approve_each(world, [i]))
        world.drain()
        assert_issued_once(world, inv.id)
        world.read(lambda uow: check_world(uow, world.namespace, watch))


def _pending_invoice(world: World, key: str) -> str:
    customer = world.add_customer(key, NO_WAIT)
    invoice_id = world.invoice_lines_now(customer, [("19.99", "2")])
    assert state_of(world, invoice_id).extended_status == S.PAYMENT_PENDING.value
    return invoice_id


def _pay(world: World, invoice_id: str, trigger: str) -> Callable[[], Any]:
    return lambda: world.write(custom_invoicing.payment_status, invoice_id, trigger, actor=world.integration)


def test_two_payment_statuses_at_once(rt: Runtime) -> None:
    world = make_world(rt)
    watch = Watch()
    issued = [
        (S.DRAFT_READY_TO_ISSUE.value, S.ISSUING_SYNCING.value, "next"),
        (S.ISSUING_SYNCING.value, S.ISSUED.value, "next"),
        (S.ISSUED.value, S.PAYMENT_PENDING.value, "next"),
    ]
    pending, failed, paid = S.PAYMENT_PENDING.value, S.PAYMENT_FAILED.value, S.PAID.value
    for rep in range(REPEATS):
        # paid against paid: one transition into paid; the other call is the same status again, a no-op
        one = _pending_invoice(world, f"paid-paid-{rep}")
        results = race(_pay(world, one, "paid"), _pay(world, one, "paid"))
        assert results == [None, None]
        steps = history(world, one)
        assert steps[-4:] == [*issued, (pending, paid, "paid")], steps
        assert [to for _, to, _ in steps].count(paid) == 1

        # paid against payment_failed: either paid wins and the failure is refused, or both land in turn
        two = _pending_invoice(world, f"paid-failed-{rep}")
        got_paid, got_failed = race(_pay(world, two, "paid"), _pay(world, two, "payment_failed"))
        steps = history(world, two)
        assert got_paid is None, got_paid
        if isinstance(got_failed, Conflict):
            assert steps[-4:] == [*issued, (pending, paid, "paid")], steps
        else:
            assert got_failed is None
            assert steps[-5:] == [*issued, (pending, failed, "payment_failed"), (failed, paid, "paid")], steps
        assert state_of(world, two).extended_status == paid
        world.read(lambda uow: check_world(uow, world.namespace, watch))


def _line_payload(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "period": {"from": r.period_start, "to": r.period_end},
        "invoiceAt": r.invoice_at,
        "price": r.price,
        "quantity": fmt(r.quantity),
    }


@pytest.mark.parametrize("edit", ["change_quantity", "remove_line"])
def test_draft_sync_races_update_invoice(rt: Runtime, edit: str) -> None:
    """An invoice in draft.syncing: the integration's draft sync against an Update Invoice."""
    world = make_world(rt, draft_hook=True)
    watch = Watch()
    syncing, waiting, validating = S.DRAFT_SYNCING.value, S.DRAFT_WAITING_AUTO_APPROVAL.value, S.DRAFT_VALIDATING.value
    for rep in range(REPEATS):
        customer = world.add_customer(f"sync-{edit}-{rep}", WAIT_A_DAY)
        invoice_id = world.invoice_lines_now(customer, [("10", "1"), ("2.50", "4")])
        assert state_of(world, invoice_id).extended_status == syncing
        rows = world.read(lambda uow, i=invoice_id: invoices.stored_lines(uow, i))
        before = len(history(world, invoice_id))

        lines = [_line_payload(r) for r in rows]
        if edit == "change_quantity":
            lines[0]["quantity"] = "3"
        else:
            del lines[1]
        sync = {"invoicing": {"lineExternalIds": [{"lineId": r.id, "externalId": f"x-{r.id}"} for r in rows]}}

        def do_sync(i: str = invoice_id, body: dict[str, Any] = sync) -> Any:
            return world.write(custom_invoicing.draft_synchronized, i, body, actor=world.integration)

        def do_update(i: str = invoice_id, body: dict[str, Any] = {"lines": lines}) -> Any:  # noqa: B006
            return world.write(invoice_edit.replace, i, body)

        synced, updated = race(do_sync, do_update)
        assert not isinstance(updated, BaseException), f"Update Invoice refused in draft.syncing: {updated}"
        steps = history(world, invoice_id)[before:]
        inv = state_of(world, invoice_id)
        update_first = steps[0] == (syncing, syncing, "update")
        if update_first:
            if edit == "change_quantity":
                # the sync names today's line ids: it still counts
                assert synced is None, synced
                assert steps == [(syncing, syncing, "update"), (syncing, waiting, "draft_synced")], steps
                assert inv.extended_status == waiting and inv.draft_synced_at is not None
            else:
                # the sync names the removed line: 400, and nothing of it is applied
                assert isinstance(synced, InvalidInput), synced
                assert steps == [(syncing, syncing, "update")], steps
                assert inv.extended_status == syncing and inv.draft_synced_at is None
        else:
            # the sync landed first; the edit makes the external copy stale, so hold 2 waits again
            assert synced is None, synced
            assert steps == [
                (syncing, waiting, "draft_synced"),
                (waiting, validating, "update"),
                (validating, syncing, "next"),
            ], steps
            assert inv.extended_status == syncing and inv.draft_synced_at is None
        kept = world.read(lambda uow, i=invoice_id: invoices.stored_lines(uow, i))
        assert len(kept) == (2 if edit == "change_quantity" else 1)
        world.read(lambda uow: check_world(uow, world.namespace, watch))


_WAITING = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")


def _waiting_for_a_lock(world: World) -> bool:
    return bool(world.read(lambda uow: uow.conn.execute(_WAITING).scalar()))


def test_a_quantity_set_that_waits_for_the_close_lands_on_the_next_period(rt: Runtime) -> None:
    """Set Item Quantity waits for the customer's lock while the period is being closed; once the close
    commits, the quantity goes to the new current period's invoice, not to the one just closed."""
    world = make_world(rt)
    customer = world.add_customer("waits-for-the-close", WAIT_A_DAY)
    sub_id = world.subscribe(customer, TEAM_PLAN)
    world.advance_clock("P1D")
    world.drain()  # opened
    world.advance_clock("P1M")  # the first period is due to close
    result: list[Any] = []
    setter = threading.Thread(
        target=lambda: result.append(world.write(items.change, sub_id, "storage_gb", "set", "42")), name="setter"
    )
    with rt.uows.write() as uow:
        sub = subscriptions.find_locked(uow, world.namespace, sub_id)
        closing = billing.gathering_ref(uow, sub)
        assert billing.process_due(uow, world.api, sub) == 1
        setter.start()
        deadline = time.monotonic() + 30
        while not _waiting_for_a_lock(world):
            assert time.monotonic() < deadline, "Set Item Quantity never waited for the customer's lock"
            time.sleep(0.02)
        uow.commit()
    setter.join(timeout=60)
    assert not setter.is_alive()
    (answer,) = result
    closed = state_of(world, closing.id)
    assert closed.extended_status == S.DRAFT_WAITING_AUTO_APPROVAL.value
    assert answer["invoiceId"] != closing.id
    assert answer["period"]["from"] == iso(closed.period_end)
    assert world.read(lambda uow: billing.quantities(uow, answer["invoiceId"])) == {"storage_gb": Decimal("42")}
    assert "storage_gb" not in world.read(lambda uow: billing.quantities(uow, closing.id))
