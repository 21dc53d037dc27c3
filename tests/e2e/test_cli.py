"""The command line as a user runs it: `billhook migrate`, `apikey create`, `clock show|advance`."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from billhook.config import Settings
from billhook.runtime import Runtime
from billhook.services import apikeys, customers, items, plans, subscriptions
from billhook.services.common import Actor
from billhook.store.schema import invoices
from tests.conftest import TEAM_PLAN
from tests.e2e.support import clean_env, run_cli

pytestmark = pytest.mark.slow


def test_migrate_creates_a_fresh_sqlite_database_and_is_repeatable(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    env = clean_env(BILLHOOK_DATABASE_URL=f"sqlite:///{db}")
    for _ in range(2):
        done = run_cli(["migrate"], env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        assert "up to date" in done.stderr
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"alembic_version", "subscriptions", "invoices", "invoice_transitions", "api_keys"} <= tables
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_apikey_create_prints_only_the_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    made = run_cli(["apikey", "create", "--namespace", "x"], env=clean_env(BILLHOOK_DATABASE_URL=url), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.splitlines()
    assert len(lines) == 1 and made.stdout == lines[0] + "\n"
    rt = Runtime.start(Settings(database_url=url))
    try:
        with rt.uows(readonly=True) as uow:
            assert apikeys.authenticate(uow, lines[0]).namespace == "x"
    finally:
        rt.close()

    refused = run_cli(
        ["apikey", "create", "--namespace", "Not OK"], env=clean_env(BILLHOOK_DATABASE_URL=url), cwd=tmp_path
    )
    assert (refused.returncode, refused.stdout) == (2, "")
    assert "namespace" in refused.stderr and "Traceback" not in refused.stderr


def test_clock_show_and_advance_process_what_falls_due(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clock.db'}"
    env = clean_env(
        BILLHOOK_DATABASE_URL=url, BILLHOOK_TEST_CLOCK="1", BILLHOOK_TEST_CLOCK_START="2026-03-30T12:00:00Z"
    )

    shown = run_cli(["clock", "show"], env=env, cwd=tmp_path)
    assert (shown.returncode, shown.stdout) == (0, "2026-03-30T12:00:00Z\n"), shown.stderr

    # the worked example's subscription, set up in-process on the same database
    rt = Runtime.start(Settings(database_url=url, test_clock=True))
    try:
        actor = Actor("default", "e2e-setup")
        with rt.uows.write() as uow:
            plans.create(uow, actor, TEAM_PLAN)
            customers.create(uow, actor, {"key": "acme", "name": "Acme", "currency": "EUR"})
            start = datetime(2026, 3, 31, tzinfo=UTC)
            sub = subscriptions.create(uow, actor, {"customerId": "acme", "plan": "team", "startAt": start})
            items.change(uow, actor, sub["id"], "storage_gb", "set", "57.5")
            items.change(uow, actor, sub["id"], "seats", "set", "12")

        moved = run_cli(["clock", "advance", "--by", "P1M"], env=env, cwd=tmp_path)
        assert (moved.returncode, moved.stdout) == (0, "2026-04-30T12:00:00Z\n"), moved.stderr
        shown = run_cli(["clock", "show"], env=env, cwd=tmp_path)
        assert shown.stdout == "2026-04-30T12:00:00Z\n"

        with rt.uows(readonly=True) as uow:  # the advance waited for the work it made due
            rows = uow.conn.execute(
                select(invoices.c.number, invoices.c.kind, invoices.c.status, invoices.c.total)
                .where(invoices.c.status != "gathering")
                .order_by(invoices.c.number)
            ).all()
        assert [(r.number, r.kind, r.status, str(r.total)) for r in rows] == [
            ("INV-000001", "opening", "paid", "29.00"),
            ("INV-000002", "period", "paid", "130.88"),
        ]

        for bad in (["--by", "P1X"], ["--to", "2026-01-01T00:00:00Z"], ["--by", "P1M", "--to", "2027-01-01T00:00:00Z"]):
            refused = run_cli(["clock", "advance", *bad], env=env, cwd=tmp_path)
            assert refused.returncode == 2, (bad, refused.stdout, refused.stderr)
            assert refused.stdout == "" and "Traceback" not in refused.stderr
        assert run_cli(["clock", "show"], env=env, cwd=tmp_path).stdout == "2026-04-30T12:00:00Z\n"
    finally:
        rt.close()
