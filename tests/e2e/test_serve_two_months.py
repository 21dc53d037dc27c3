"""`billhook serve` as a real process: first key on stdout, the worked example over HTTP, docs and probes.

Runs on an SQLite file in the server's working directory (the default database URL) and on
PostgreSQL (BILLHOOK_DATABASE_URL). The server is stopped with SIGTERM and must exit cleanly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEAM_PLAN
from tests.e2e.support import Client, Proc, clean_env, first_line, free_port, ready, run_cli, spawn, stop, wait_for

pytestmark = pytest.mark.slow

CLOCK_START = "2026-03-30T12:00:00Z"


def _env(db_url: str) -> dict[str, str]:
    # SQLite: rely on the default, ./billhook.db in the server's working directory
    return clean_env() if db_url.startswith("sqlite") else clean_env(BILLHOOK_DATABASE_URL=db_url)


@contextmanager
def serving(db_url: str, cwd: Path, label: str) -> Iterator[tuple[Proc, str]]:
    port = free_port()
    args = ["serve", "--port", str(port), "--test-clock", "--test-clock-start", CLOCK_START]
    proc = spawn(args, env=_env(db_url), cwd=cwd, label=label)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(base), timeout=60, what="/readyz", procs=[proc])
        yield proc, base
    finally:
        stop(proc)


def test_serve_two_months_over_http(db_url: str, tmp_path: Path) -> None:
    with serving(db_url, tmp_path, "serve") as (proc, base):
        # the key is the first line on stdout (the worker's structured log lines follow it there)
        key = wait_for(lambda: first_line(proc), timeout=30, what="the first API key")
        assert key.startswith("bh_") and " " not in key, proc.out()
        if db_url.startswith("sqlite"):
            assert (tmp_path / "billhook.db").is_file()

        api = Client(base, key)
        assert api.call("GET", "/test-clock")["now"] == CLOCK_START
        api.call("POST", "/plans", TEAM_PLAN, 201)
        api.call("POST", "/customers", {"key": "acme", "name": "Acme", "currency": "EUR"}, 201)
        sub = api.call(
            "POST", "/subscriptions", {"customerId": "acme", "plan": "team", "startAt": "2026-03-31T00:00:00Z"}, 201
        )
        api.advance("2026-03-31T00:00:00Z")
        api.call("PUT", f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "57.5"})
        api.call("PUT", f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "12"})

        api.advance("2026-04-30T00:00:00Z")
        opening, april = api.period_invoices(sub["id"])
        assert (opening["number"], opening["status"], opening["totals"]["total"]) == ("INV-000001", "paid", "29.00")
        assert (april["number"], april["status"], april["totals"]["total"]) == ("INV-000002", "paid", "130.88")
        assert april["period"] == {"from": "2026-03-31T00:00:00Z", "to": "2026-04-30T00:00:00Z"}

        api.advance("2026-05-31T00:00:00Z")
        may = api.period_invoices(sub["id"])[-1]
        assert (may["number"], may["status"], may["totals"]["total"]) == ("INV-000003", "paid", "119.00")
        assert may["period"] == {"from": "2026-04-30T00:00:00Z", "to": "2026-05-31T00:00:00Z"}

        spec = httpx.get(f"{base}/openapi.json", timeout=10)
        assert spec.status_code == 200
        assert "/api/v1/subscriptions" in spec.json()["paths"]
        docs = httpx.get(f"{base}/docs", timeout=10)
        assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200
        assert "billhook_periods_closed_total 2.0" in metrics.text.splitlines()

        # a key made with the CLI on the same database works against the running server, in its namespace
        made = run_cli(["apikey", "create", "--namespace", "x"], env=_env(db_url), cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert len(made.stdout.splitlines()) == 1 and made.stdout.strip() != key
        other = Client(base, made.stdout.strip())
        assert other.call("GET", "/customers")["items"] == []
        assert other.call("GET", "/plans/team", status=404)["status"] == 404
        assert [c["key"] for c in api.call("GET", "/customers")["items"]] == ["acme"]
        assert Client(base, key + "x").call("GET", "/customers", status=401)["status"] == 401

        assert stop(proc) == 0, proc.describe()
        assert "worker.stopped" in proc.err(), "the in-process worker was not stopped before exit"

    # a restart prints no new key; the data, the keys and the test clock's time survive it
    with serving(db_url, tmp_path, "restart") as (again, base):
        assert Client(base, key).call("GET", "/test-clock")["now"] == "2026-05-31T00:00:00Z"
        assert len(Client(base, key).period_invoices(sub["id"])) == 3
        assert stop(again) == 0, again.describe()
        assert key not in again.out() and not any(line.startswith("bh_") for line in again.out().splitlines())
