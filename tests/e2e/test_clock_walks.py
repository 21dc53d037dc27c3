"""The test clock's walk as real processes: an advance that does not wait is walked by `billhook serve`'s own
worker, and `billhook clock advance --namespace` walks one namespace's clock, with its progress shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from billhook.config import Settings
from billhook.runtime import Runtime
from billhook.services import apikeys, customers, plans, subscriptions
from billhook.services.common import Actor
from billhook.store.schema import invoice_transitions, invoices
from tests.conftest import TEAM_PLAN
from tests.e2e.support import clean_env, first_line, run_cli, wait_for
from tests.e2e.test_serve_two_months import CLOCK_START, Client, serving

pytestmark = pytest.mark.slow

ENDS = ["2026-04-30T12:00:00Z", "2026-05-30T12:00:00Z", "2026-06-30T12:00:00Z"]


def test_an_advance_that_does_not_wait_is_walked_by_the_served_worker(db_url: str, tmp_path: Path) -> None:
    with serving(db_url, tmp_path, "serve") as (proc, base):
        key = wait_for(lambda: first_line(proc), timeout=30, what="the first API key")
        api = Client(base, key)
        api.call("POST", "/plans", TEAM_PLAN, 201)
        api.call("POST", "/customers", {"key": "acme", "name": "Acme", "currency": "EUR"}, 201)
        sub = api.call("POST", "/subscriptions", {"customerId": "acme", "plan": "team"}, 201)  # from CLOCK_START

        answer = api.call("POST", "/test-clock/advance", {"by": "P3M"})
        assert (answer["namespace"], answer["advancingTo"]) == ("default", ENDS[-1])

        def reached() -> dict[str, Any] | None:
            clock: dict[str, Any] = api.call("GET", "/test-clock")
            assert clock["namespace"] == "default"
            return clock if clock["advancingTo"] is None else None

        clock = wait_for(reached, timeout=120, what="the walk to its target", procs=[proc])
        assert clock["now"] == ENDS[-1]
        closed = [i for i in api.period_invoices(sub["id"]) if i["issuedAt"] != CLOCK_START]
        assert [(i["period"]["to"], i["status"], i["issuedAt"]) for i in closed] == [(e, "paid", e) for e in ENDS]


def test_cli_clock_advance_walks_one_namespace_and_names_it(db_url: str, tmp_path: Path) -> None:
    url = db_url
    env = clean_env(BILLHOOK_DATABASE_URL=url, BILLHOOK_TEST_CLOCK="1", BILLHOOK_TEST_CLOCK_START=CLOCK_START)
    rt = Runtime.start(
        Settings(database_url=url, test_clock=True, test_clock_start=datetime(2026, 3, 30, 12, tzinfo=UTC))
    )
    try:
        actor = Actor("acme-ns", "e2e-setup")
        with rt.uows.write("acme-ns") as uow:
            apikeys.create(uow, "acme-ns")
            plans.create(uow, actor, TEAM_PLAN)
            customers.create(uow, actor, {"key": "acme", "name": "Acme", "currency": "EUR"})
            sub = subscriptions.create(uow, actor, {"customerId": "acme", "plan": "team"})

        moved = run_cli(
            ["clock", "advance", "--namespace", "acme-ns", "--by", "P3M"], env=env, cwd=tmp_path, timeout=300
        )
        assert (moved.returncode, moved.stdout) == (0, ENDS[-1] + "\n"), moved.stderr
        assert "namespace acme-ns" in moved.stderr and "100%" in moved.stderr  # named, and its progress shown

        shown = run_cli(["clock", "show", "--namespace", "acme-ns"], env=env, cwd=tmp_path)
        assert (shown.stdout, "namespace acme-ns" in shown.stderr) == (ENDS[-1] + "\n", True)
        default = run_cli(["clock", "show"], env=env, cwd=tmp_path)  # another namespace's clock: untouched
        assert (default.stdout, "namespace default" in default.stderr) == (CLOCK_START + "\n", True)

        with rt.uows(readonly=True) as uow:  # each period closed at its own end, not at the target
            rows = uow.conn.execute(
                select(invoices.c.period_end, invoices.c.issued_at)
                .where(invoices.c.subscription_id == sub["id"], invoices.c.kind == "period")
                .order_by(invoices.c.period_end)
            ).all()
            closes = uow.conn.execute(
                select(invoice_transitions.c.at)
                .where(invoice_transitions.c.from_status == "gathering")
                .order_by(invoice_transitions.c.at)
            ).scalars()
            assert [c.strftime("%Y-%m-%dT%H:%M:%SZ") for c in closes] == [CLOCK_START, *ENDS]  # opening, then each end
        issued = [(r.period_end.strftime("%Y-%m-%dT%H:%M:%SZ"), r.issued_at) for r in rows if r.issued_at is not None]
        assert [(end, at.strftime("%Y-%m-%dT%H:%M:%SZ")) for end, at in issued] == [(e, e) for e in ENDS]
    finally:
        rt.close()
