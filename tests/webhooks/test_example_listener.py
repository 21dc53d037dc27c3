"""The example integration (examples/billable_listener.py) against a real `billhook serve`, through a month
on the test clock: it audits the quantities, adds the loyalty credit and runs the invoice without the grace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEAM_PLAN
from tests.e2e.support import Client, Proc, clean_env, free_port, ready, running, spawn, stop, wait_for
from tests.webhooks.helpers import PERIOD_END, SUB_START

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "billable_listener.py"
CLOCK_START = "2026-03-30T12:00:00Z"


def _spawn_python(args: list[str], *, env: dict[str, str], cwd: Path, label: str) -> Proc:
    out, err = cwd / f"{label}.out", cwd / f"{label}.err"
    with out.open("wb") as o, err.open("wb") as e:
        popen = subprocess.Popen([sys.executable, *args], env=env, cwd=cwd, stdout=o, stderr=e)
    return Proc(popen, out, err)


class _Billhook(Client):
    """A ``billhook serve`` on the test clock, and calls to its API that must answer as expected."""

    def __init__(self, db_url: str, tmp_path: Path, procs: list[Proc]) -> None:
        env = clean_env(BILLHOOK_WEBHOOK_ALLOW_PRIVATE="1")
        if not db_url.startswith("sqlite"):
            env["BILLHOOK_DATABASE_URL"] = db_url
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.server = spawn(
            ["serve", "--port", str(port), "--test-clock", "--test-clock-start", CLOCK_START],
            env=env,
            cwd=tmp_path,
            label="serve",
        )
        procs.append(self.server)
        wait_for(lambda: ready(self.base), timeout=60, what="/readyz", procs=procs)
        server = self.server
        self.key = wait_for(lambda: "\n" in server.out() and server.out().split("\n", 1)[0], timeout=30, what="the key")
        super().__init__(self.base, self.key, timeout=120)

    def listener(self, port: int, secret: str, usage: Path, tmp_path: Path, procs: list[Proc]) -> Proc:
        example = _spawn_python(
            [str(EXAMPLE), "--port", str(port)],
            env=clean_env(
                BILLHOOK_URL=self.base, BILLHOOK_API_KEY=self.key, BILLHOOK_WEBHOOK_SECRET=secret, USAGE_FILE=str(usage)
            ),
            cwd=tmp_path,
            label="example",
        )
        procs.append(example)
        wait_for(lambda: "listening on" in example.out(), timeout=60, what="the example listener", procs=procs)
        return example


def test_the_example_listener_audits_credits_and_runs_the_invoice(db_url: str, tmp_path: Path) -> None:
    listener_port = free_port()
    procs: list[Proc] = []
    with running(procs):
        bh = _Billhook(db_url, tmp_path, procs)
        server, call, advance = bh.server, bh.call, bh.advance

        call("POST", "/plans", TEAM_PLAN, 201)
        call("POST", "/customers", {"key": "acme", "name": "Acme", "currency": "EUR"}, 201)
        sub = call("POST", "/subscriptions", {"customerId": "acme", "plan": "team", "startAt": SUB_START}, 201)
        hook = {"url": f"http://127.0.0.1:{listener_port}/", "eventTypes": ["subscription.billable"]}
        secret = call("POST", "/webhooks/endpoints", hook, 201)["secret"]

        # the integration's own records of what acme used; billhook was told less during the month
        usage = tmp_path / "usage.json"
        usage.write_text(json.dumps({"acme": {"storage_gb": "57.5", "seats": "12"}}))
        example = bh.listener(listener_port, secret, usage, tmp_path, procs)

        advance(SUB_START)
        call("PUT", f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "30"})
        call("PUT", f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "10"})
        advance(PERIOD_END)  # the period closes, the listener is told, it edits and runs the invoice

        invoices = call("GET", f"/billing/invoices?subscription={sub['id']}&expand=lines&pageSize=100")["items"]
        opening, april = sorted((i for i in invoices if i["status"] != "gathering"), key=lambda i: i["number"])
        assert (opening["number"], opening["totals"]["total"]) == ("INV-000001", "29.00")
        assert call("GET", "/test-clock")["now"] == PERIOD_END  # no grace was waited for
        assert (april["status"], april["issuedAt"], april["number"]) == ("paid", PERIOD_END, "INV-000002")
        lines = {line["name"]: line for line in april["lines"]}
        assert (lines["Storage (GB)"]["quantity"], lines["Storage (GB)"]["totals"]["total"]) == ("57.5", "11.88")
        assert (lines["Seats"]["quantity"], lines["Seats"]["totals"]["total"]) == ("12", "90.00")
        assert lines["Team plan"]["totals"]["total"] == "29.00"
        (credit,) = [line for line in april["lines"] if line["totals"]["total"].startswith("-")]
        assert credit["totals"]["total"] == "-5.00"
        assert april["totals"]["total"] == "125.88"  # 130.88 − 5.00

        (delivery,) = call("GET", "/webhooks/deliveries")["items"]
        assert (delivery["status"], delivery["attemptCount"]) == ("succeeded", 1)
        assert delivery["attempts"][0]["statusCode"] == 200
        history = call("GET", f"/billing/invoices/{april['id']}/history")["items"]
        assert any(h["from"] == "draft.outstanding" and h["trigger"] == "approve" for h in history), history

        assert stop(example) in (0, -15), example.describe()
        assert stop(server) == 0, server.describe()


def test_the_example_listener_catches_up_on_three_held_invoices_each_with_its_own_figures(
    db_url: str, tmp_path: Path
) -> None:
    """The listener is down through three periods: their hooks fail every attempt and the invoices wait,
    held. It comes back, the operator redelivers the three hooks, and a month goes by: each held invoice is
    corrected once, with its own period's figures and one credit, and they run oldest first; then the fourth
    period's invoice is corrected and run as it closes. Not one call of the listener is refused."""
    listener_port = free_port()
    procs: list[Proc] = []
    with running(procs):
        bh = _Billhook(db_url, tmp_path, procs)
        call = bh.call
        call("POST", "/plans", TEAM_PLAN, 201)
        call("POST", "/customers", {"key": "acme", "name": "Acme", "currency": "EUR"}, 201)
        sub = call("POST", "/subscriptions", {"customerId": "acme", "plan": "team", "startAt": SUB_START}, 201)
        sid = sub["id"]
        hook = {"url": f"http://127.0.0.1:{listener_port}/", "eventTypes": ["subscription.billable"]}
        secret = call("POST", "/webhooks/endpoints", hook, 201)["secret"]
        bh.advance(SUB_START)
        call("PUT", f"/subscriptions/{sid}/items/storage_gb/quantity", {"quantity": "30"})
        call("PUT", f"/subscriptions/{sid}/items/seats/quantity", {"quantity": "10"})

        bh.advance("2026-07-05T00:00:00Z")  # April, May and June close; nobody listens
        failed = call("GET", "/webhooks/deliveries?pageSize=100")["items"]
        assert [(d["status"], d["attemptCount"]) for d in failed] == [("failed", 11)] * 3

        def closed() -> list[dict[str, Any]]:
            found = call("GET", f"/billing/invoices?subscription={sid}&expand=lines&pageSize=100")["items"]
            return sorted((i for i in found if i["status"] != "gathering"), key=lambda i: i["period"]["from"])[1:]

        assert [i["statusDetails"]["extendedStatus"] for i in closed()] == ["draft.outstanding"] * 3

        # the integration's own records, period by period
        usage = tmp_path / "usage.json"
        records = {
            "2026-04-30": {"storage_gb": "57.5", "seats": "12"},
            "2026-05-31": {"storage_gb": "20", "seats": "12"},
            "2026-06-30": {"storage_gb": "44", "seats": "11"},
            "2026-07-31": {"storage_gb": "12", "seats": "11"},
        }
        usage.write_text(json.dumps({"acme": records}))
        example = bh.listener(listener_port, secret, usage, tmp_path, procs)
        for delivery in failed:
            call("POST", f"/webhooks/deliveries/{delivery['id']}/redeliver")
        bh.advance("2026-08-05T00:00:00Z")

        invoices = closed()
        assert [i["period"]["to"] for i in invoices] == [f"{day}T00:00:00Z" for day in records]

        def figures(inv: dict[str, Any]) -> tuple[str, ...]:
            by_name = {line["name"]: line for line in inv["lines"]}
            storage = by_name.get("Storage (GB)")
            return (
                inv["status"],
                storage["quantity"] if storage else "0",
                by_name["Seats"]["quantity"],
                by_name["Loyalty credit"]["totals"]["total"],
                inv["totals"]["total"],
            )

        assert [figures(i) for i in invoices] == [
            ("paid", "57.5", "12", "-5.00", "125.88"),  # 11.88 + 90.00 + 29.00 − 5.00
            ("paid", "20", "12", "-5.00", "116.50"),  # 2.50 + 90.00 + 29.00 − 5.00
            ("paid", "44", "11", "-5.00", "115.00"),  # 8.50 + 82.50 + 29.00 − 5.00
            ("paid", "12", "11", "-5.00", "107.00"),  # 0.50 + 82.50 + 29.00 − 5.00
        ]
        # run oldest first: the gap-free numbers follow the order they were issued in
        assert [i["number"] for i in invoices] == ["INV-000002", "INV-000003", "INV-000004", "INV-000005"]
        issued = [i["issuedAt"] for i in invoices]
        assert issued == sorted(issued) and issued[0] == "2026-07-05T00:00:00Z" and issued[3] >= "2026-07-31"

        assert stop(example) in (0, -15), example.describe()
        calls = [line for line in example.err().splitlines() if " -> " in line]
        assert calls and all(line.endswith(" 200") or line.endswith(" 201") for line in calls), calls
        storage_sets = [line for line in calls if line.startswith("PUT") and "storage_gb" in line]
        assert len(storage_sets) == 4  # each held invoice corrected once
        assert stop(bh.server) == 0, bh.server.describe()
