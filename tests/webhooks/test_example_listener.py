"""The example integration (examples/billable_listener.py) against a real `billhook serve`, through a month
on the test clock: it audits the quantities, adds the loyalty credit and runs the invoice without the grace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEAM_PLAN
from tests.e2e.support import Proc, clean_env, free_port, running, spawn, stop, wait_for
from tests.webhooks.helpers import PERIOD_END, SUB_START

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "billable_listener.py"
CLOCK_START = "2026-03-30T12:00:00Z"


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _spawn_python(args: list[str], *, env: dict[str, str], cwd: Path, label: str) -> Proc:
    out, err = cwd / f"{label}.out", cwd / f"{label}.err"
    with out.open("wb") as o, err.open("wb") as e:
        popen = subprocess.Popen([sys.executable, *args], env=env, cwd=cwd, stdout=o, stderr=e)
    return Proc(popen, out, err)


def test_the_example_listener_audits_credits_and_runs_the_invoice(db_url: str, tmp_path: Path) -> None:
    env = clean_env(BILLHOOK_WEBHOOK_ALLOW_PRIVATE="1")
    if not db_url.startswith("sqlite"):
        env["BILLHOOK_DATABASE_URL"] = db_url
    port, listener_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    procs: list[Proc] = []
    with running(procs):
        server = spawn(
            ["serve", "--port", str(port), "--test-clock", "--test-clock-start", CLOCK_START],
            env=env,
            cwd=tmp_path,
            label="serve",
        )
        procs.append(server)
        wait_for(lambda: _ready(base), timeout=60, what="/readyz", procs=procs)
        key = wait_for(lambda: "\n" in server.out() and server.out().split("\n", 1)[0], timeout=30, what="the key")
        http = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60)

        def call(method: str, path: str, body: Any = None, status: int = 200) -> Any:
            r = http.request(method, path, json=body)
            assert r.status_code == status, f"{method} {path} → {r.status_code}: {r.text}"
            return r.json() if r.content else None

        def advance(to: str) -> None:
            assert call("POST", "/test-clock/advance?wait=true", {"to": to})["now"] == to

        call("POST", "/plans", TEAM_PLAN, 201)
        call("POST", "/customers", {"key": "acme", "name": "Acme", "currency": "EUR"}, 201)
        sub = call("POST", "/subscriptions", {"customerId": "acme", "plan": "team", "startAt": SUB_START}, 201)
        hook = {"url": f"http://127.0.0.1:{listener_port}/", "eventTypes": ["subscription.billable"]}
        secret = call("POST", "/webhooks/endpoints", hook, 201)["secret"]

        # the integration's own records of what acme used; billhook was told less during the month
        usage = tmp_path / "usage.json"
        usage.write_text(json.dumps({"acme": {"storage_gb": "57.5", "seats": "12"}}))
        example = _spawn_python(
            [str(EXAMPLE), "--port", str(listener_port)],
            env=clean_env(
                BILLHOOK_URL=base, BILLHOOK_API_KEY=key, BILLHOOK_WEBHOOK_SECRET=secret, USAGE_FILE=str(usage)
            ),
            cwd=tmp_path,
            label="example",
        )
        procs.append(example)
        wait_for(lambda: "listening on" in example.out(), timeout=60, what="the example listener", procs=procs)

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
