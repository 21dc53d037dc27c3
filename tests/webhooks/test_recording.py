"""A running worker records a batch of deliveries (and releases the invoices they held) on its recorder
thread while it claims and sends the next batch: every delivery is recorded once, every held invoice
runs, nothing is left behind when the worker stops, and a recording that fails is redone one delivery
at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, text

from billhook.config import Settings
from billhook.runtime import Runtime
from billhook.services import customers, invoices, plans, profiles, subscriptions, test_clock, webhooks
from billhook.services.common import Actor
from billhook.store.schema import invoices as invoices_t
from billhook.store.schema import webhook_attempts, webhook_deliveries
from billhook.worker.loop import Worker
from tests.e2e.support import FLEET_PLAN
from tests.webhooks.listener import Listener

N = 12
START = datetime(2026, 1, 1, tzinfo=UTC)
AFTER_FIRST_PERIOD = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
BILLABLE = "subscription.billable"


@pytest.fixture
def held(db_url: str, listener: Listener) -> Iterator[Runtime]:
    """N subscriptions whose first period has ended (nothing processed yet), a billable endpoint on the
    listener, and a grace of zero: each period's invoice runs once its hook was delivered."""
    rt = Runtime.start(
        Settings(database_url=db_url, test_clock=True, test_clock_start=START, webhook_allow_private=True)
    )
    actor = Actor("default", "test")
    with rt.uows.write() as uow:
        plans.create(uow, actor, FLEET_PLAN)
        profile = profiles.find(uow, "default", invoices.snapshot(uow, "default", "no-customer")["profile_id"])
        workflow = {"invoicing": {"billableGrace": "PT0S"}}
        profiles.replace(uow, actor, profile.id, {"name": profile.name, "default": True, "workflow": workflow})
        created = webhooks.create_endpoint(
            uow, actor, {"url": listener.url("billing"), "eventTypes": [BILLABLE]}, allow_private=True
        )
        listener.secrets.setdefault("billing", []).append(created["secret"])
        for i in range(N):
            customer = customers.create(uow, actor, {"key": f"c{i:02d}", "name": f"Customer {i}", "currency": "EUR"})
            subscriptions.create(uow, actor, {"customerId": customer["id"], "plan": "fleet", "startAt": START})
    with rt.uows.write() as uow:
        test_clock.advance(uow, to=AFTER_FIRST_PERIOD)
    yield rt
    rt.close()


def run_until(worker: Worker, done: Any, timeout: float = 60) -> None:
    """``worker.run`` on a thread until ``done()``, then stop it (and wait for it to end)."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
        worker.close()
    assert not thread.is_alive()


def period_invoices(rt: Runtime) -> list[Any]:
    with rt.uows(readonly=True) as uow:
        closed = select(invoices_t).where(invoices_t.c.kind == "period", invoices_t.c.status != "gathering")
        return list(uow.conn.execute(closed))


def billable_deliveries(rt: Runtime) -> list[Any]:
    with rt.uows(readonly=True) as uow:
        return list(uow.conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.event_type == BILLABLE)))


def test_batches_are_recorded_beside_the_next_and_every_held_invoice_runs(
    held: Runtime, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded_on: list[str] = []  # the thread of each transaction that recorded attempts
    wrote_attempts = threading.local()

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "webhook_attempts" in statement and statement.lstrip().upper().startswith(("INSERT", "COPY")):
            wrote_attempts.flag = True

    def commit(conn: Any) -> None:
        if getattr(wrote_attempts, "flag", False):
            recorded_on.append(threading.current_thread().name)
            wrote_attempts.flag = False

    event.listen(held.engine, "before_cursor_execute", before)
    event.listen(held.engine, "commit", commit)
    worker = Worker(held.uows, batch_size=N, senders=1, poll_interval=0.05, allow_private_webhooks=True)
    # one sender: batches of four deliveries (four rounds of the senders), so three batches

    run_until(worker, lambda: [inv.status for inv in period_invoices(held)] == ["paid"] * N)

    invs = period_invoices(held)
    assert len(invs) == N and {i.status for i in invs} == {"paid"}
    sent = listener.received("billing", BILLABLE)
    assert sorted(r.event["data"]["invoice"]["id"] for r in sent) == sorted(i.id for i in invs)  # each once
    deliveries = billable_deliveries(held)
    assert len(deliveries) == N
    assert {(d.status, d.attempts, d.lease_owner) for d in deliveries} == {("succeeded", 1, None)}
    assert len(recorded_on) == 3 and set(recorded_on) == {"billhook-record_0"}, recorded_on
    assert "one_by_one" not in capsys.readouterr().out


def test_a_recording_that_fails_is_redone_one_delivery_at_a_time(
    held: Runtime, listener: Listener, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first delivery's attempt cannot be written (a trigger refuses it): its batch's recording
    fails as a whole, and is redone one delivery at a time, which records every other one."""
    sqlite = held.engine.dialect.name == "sqlite"
    with held.engine.begin() as conn:
        if sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_first BEFORE INSERT ON webhook_attempts "
                    "WHEN NEW.delivery_id = (SELECT min(id) FROM webhook_deliveries) "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_first() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.delivery_id = (SELECT min(id) FROM webhook_deliveries) THEN "
                    "RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_first BEFORE INSERT ON webhook_attempts "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_first()"
                )
            )
    worker = Worker(held.uows, batch_size=N, senders=1, poll_interval=0.05, allow_private_webhooks=True)

    def settled() -> bool:
        return sum(1 for inv in period_invoices(held) if inv.status == "paid") == N - 1

    run_until(worker, settled)

    deliveries = sorted(billable_deliveries(held), key=lambda d: d.id)
    first, rest = deliveries[0], deliveries[1:]
    assert (first.status, first.attempts, first.lease_owner) == ("pending", 0, worker.name)  # tried again later
    assert {(d.status, d.attempts) for d in rest} == {("succeeded", 1)}
    by_id = {inv.id: inv for inv in period_invoices(held)}
    assert by_id[first.subject_id].extended_status == "draft.outstanding"  # still held, as it must be
    assert {by_id[d.subject_id].status for d in rest} == {"paid"}
    with held.uows(readonly=True) as uow:
        assert uow.conn.execute(select(webhook_attempts.c.delivery_id)).scalars().all().count(first.id) == 0
    out = capsys.readouterr().out
    assert "worker.outcomes_recorded_one_by_one" in out and "injected failure" in out
    assert "worker.delivery_record_failed" in out
