"""Webhooks across processes and threads, on PostgreSQL.

(a) A real `billhook worker` is SIGKILLed while webhook requests are in flight to a slow listener; after a
restart every event reaches every subscribed endpoint at least once, and no invoice is issued twice.
(b) Run Outstanding Invoice races the worker's auto-run (the grace just ended) in real threads: each invoice
is issued exactly once, with one number.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from billhook.services import test_clock, webhooks
from billhook.services.common import Actor
from billhook.store.schema import invoice_transitions, invoices, webhook_deliveries
from tests.conftest import CLOCK_START, Api, new_key
from tests.e2e.support import (
    FLEET_NOW,
    Proc,
    check_fleet,
    closed_count,
    failures,
    fleet,
    pending_count,
    running,
    spawn,
    stop,
    wait_for,
    worker_env,
    worker_name,
)
from tests.webhooks.helpers import PERIOD_END, SUB_START, endpoint, team_subscription
from tests.webhooks.listener import Listener

pytestmark = pytest.mark.slow

N = 80
BILLABLE = "subscription.billable"


def _delivery_counts(rt: Any) -> dict[str, int]:
    with rt.uows(readonly=True) as uow:
        rows = uow.conn.execute(
            select(webhook_deliveries.c.status, func.count()).group_by(webhook_deliveries.c.status)
        ).all()
    return {status: int(count) for status, count in rows}


def _in_flight(rt: Any, owner: str) -> int:
    """Deliveries the worker has claimed but not recorded yet."""
    with rt.uows(readonly=True) as uow:
        return int(
            uow.conn.execute(
                select(func.count())
                .select_from(webhook_deliveries)
                .where(webhook_deliveries.c.lease_owner == owner, webhook_deliveries.c.status == "pending")
            ).scalar_one()
        )


def test_a_worker_killed_mid_delivery_loses_no_webhook(pg_url: str, tmp_path: Path) -> None:
    f = fleet(pg_url, N)
    rt = f.runtime
    listener = Listener(delay=0.3)
    setup = Actor("default", "e2e-setup")
    with rt.uows.write() as uow:
        secrets = {
            name: webhooks.create_endpoint(
                uow, setup, {"url": listener.url(name), "eventTypes": types}, allow_private=True
            )
            for name, types in (("invoices", ["invoice.created", "invoice.paid"]), ("billable", [BILLABLE]))
        }
    by_endpoint = {ep["id"]: name for name, ep in secrets.items()}
    env = worker_env(
        pg_url,
        BILLHOOK_WORKER_BATCH_SIZE="10",
        BILLHOOK_WORKER_LEASE_SECONDS="4",
        BILLHOOK_WEBHOOK_ALLOW_PRIVATE="1",
    )
    procs: list[Proc] = []
    try:
        with running(procs):
            first = spawn(["worker"], env=env, cwd=tmp_path, label="first")
            procs.append(first)
            dead = wait_for(lambda: worker_name(first), timeout=60, what="the first worker to start", procs=procs)
            wait_for(
                # the worker waits for an answer that takes 0.3 s more: it cannot record that delivery before the kill
                lambda: len(listener.received()) >= 10 and listener.just_arrived(0.1),
                timeout=90,
                interval=0.01,
                what="webhook requests in flight",
                procs=procs,
            )
            first.popen.send_signal(signal.SIGKILL)
            assert first.popen.wait(timeout=20) == -signal.SIGKILL
            orphaned = _in_flight(rt, dead)
            assert orphaned > 0, "the killed worker held no delivery in flight"
            before_restart = len(listener.received())

            restarted = [spawn(["worker"], env=env, cwd=tmp_path, label=f"second{i}") for i in range(2)]
            procs.extend(restarted)

            def periods_held() -> bool:
                counts = _delivery_counts(rt)
                return closed_count(rt) == N and pending_count(rt) == 0 and counts.get("pending", 0) == 0

            wait_for(periods_held, timeout=120, interval=0.3, what="every period closed and announced", procs=restarted)
            with rt.uows.write() as uow:  # the billable grace (PT1H) passes: the held invoices run
                test_clock.advance(uow, to=FLEET_NOW + timedelta(hours=1))
                uow.commit()

            def all_paid() -> bool:
                with rt.uows(readonly=True) as uow:
                    unpaid = uow.conn.execute(
                        select(func.count())
                        .select_from(invoices)
                        .where(invoices.c.status.not_in(("paid", "gathering")))
                    ).scalar_one()
                return unpaid == 0 and pending_count(rt) == 0 and _delivery_counts(rt).get("pending", 0) == 0

            wait_for(all_paid, timeout=120, interval=0.3, what="every invoice paid and announced", procs=restarted)
            for p in restarted:
                assert stop(p) == 0, p.describe()
                assert failures(p) == [], p.describe()

        check_fleet(f)  # every period invoiced once, paid, numbers gap-free: nothing issued twice

        with rt.uows(readonly=True) as uow:
            rows = uow.conn.execute(
                select(webhook_deliveries.c.endpoint_id, webhook_deliveries.c.event_id, webhook_deliveries.c.status)
            ).all()
        # per subscription: the opening and the period invoice, each created and paid; one billable
        assert Counter(by_endpoint[r.endpoint_id] for r in rows) == {"invoices": 4 * N, "billable": N}
        assert {r.status for r in rows} == {"succeeded"}
        received = listener.received()
        got = {(r.path, r.webhook_id) for r in received}
        missing = [
            (by_endpoint[r.endpoint_id], r.event_id)
            for r in rows
            if (by_endpoint[r.endpoint_id], r.event_id) not in got
        ]
        assert missing == [], f"{len(missing)} deliveries never reached the listener, e.g. {missing[:3]}"
        assert len(got) == len(rows)  # nothing that was not queued
        listener.secrets = {name: [ep["secret"]] for name, ep in secrets.items()}
        listener.check_all()
        repeats = len(received) - len(got)
        assert before_restart < len(received)
        print(f"{orphaned} deliveries orphaned by the kill; {repeats} requests repeated (at least once)")
    finally:
        listener.close()
        rt.close()


# ------------------------------------------------------------------------------------------------ (b)


@pytest.fixture
def pg_runtime(pg_url: str) -> Iterator[Any]:
    from billhook.config import Settings
    from billhook.runtime import Runtime

    settings = Settings(database_url=pg_url, test_clock=True, test_clock_start=CLOCK_START, webhook_allow_private=True)
    rt = Runtime.start(settings)
    yield rt
    rt.close()


RACERS = 12


def test_run_outstanding_racing_the_auto_run_issues_once(pg_runtime: Any, listener: Listener) -> None:
    from fastapi.testclient import TestClient

    from billhook.api.app import create_app

    rt = pg_runtime
    with TestClient(create_app(rt)) as client:
        api = Api(client, new_key(rt))
        endpoint(api, listener, "billing", [BILLABLE])
        subs = [team_subscription(api, f"c{i:02d}") for i in range(RACERS)]
        api.advance(to=SUB_START)
        api.advance(to=PERIOD_END)  # every April invoice is held; the grace ends an hour later
        with rt.uows(readonly=True) as uow:
            held = uow.conn.execute(
                select(invoices.c.id, invoices.c.next_action_at).where(
                    invoices.c.extended_status == "draft.outstanding"
                )
            ).all()
        assert len(held) == RACERS
        api.ok(api.post("/test-clock/advance", {"by": "PT1H"}))  # no wait: the worker has not looked yet

        start = threading.Barrier(RACERS + 2)
        answers: list[int] = []
        errors: list[BaseException] = []

        def run(sub_id: str) -> None:
            try:
                start.wait(timeout=30)
                answers.append(api.post(f"/subscriptions/{sub_id}/outstanding-invoice/run").status_code)
            except BaseException as exc:  # reported below
                errors.append(exc)

        def work(name: str) -> None:
            worker = rt.worker(name)
            try:
                start.wait(timeout=30)
                while worker.run_once():
                    pass
            except BaseException as exc:
                errors.append(exc)
            finally:
                worker.close()

        threads = [threading.Thread(target=run, args=(s["id"],)) for s in subs]
        threads += [threading.Thread(target=work, args=(f"racer{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert set(answers) <= {200, 409} and len(answers) == RACERS, answers
        api.advance(by="PT0S")

        with rt.uows(readonly=True) as uow:
            april = uow.conn.execute(select(invoices).where(invoices.c.id.in_([h.id for h in held]))).all()
            into_issued = Counter(
                uow.conn.execute(
                    select(invoice_transitions.c.invoice_id).where(invoice_transitions.c.to_status == "issued")
                ).scalars()
            )
            winners = Counter(
                uow.conn.execute(
                    select(invoice_transitions.c.actor).where(
                        invoice_transitions.c.to_status == "draft.validating",
                        invoice_transitions.c.from_status == "draft.outstanding",
                        invoice_transitions.c.invoice_id.in_([h.id for h in held]),
                    )
                ).scalars()
            )
            numbers = (
                uow.conn.execute(select(invoices.c.number).where(invoices.c.issued_at.is_not(None))).scalars().all()
            )
        assert {i.status for i in april} == {"paid"}
        assert all(into_issued[i.id] == 1 for i in april), into_issued
        assert sorted(numbers) == [f"INV-{k:06d}" for k in range(1, 2 * RACERS + 1)]
        assert sum(winners.values()) == RACERS
        print(f"released by: {dict(winners)}; run answered {Counter(answers)}")
