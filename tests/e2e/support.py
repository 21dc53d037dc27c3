"""Helpers for the multi-process tests: a fleet of subscriptions, real `billhook` subprocesses, checks in SQL.

Subprocesses write their output to files (never to pipes a test might not drain), every wait is
bounded, and every process a test starts is stopped in a ``finally``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from billhook.config import Settings
from billhook.runtime import Runtime
from billhook.services import customers, items, plans, subscriptions
from billhook.services.common import Actor
from billhook.store.clock import StoredTestClock
from billhook.store.schema import invoice_transitions, invoices
from billhook.store.schema import subscriptions as subscriptions_t

BILLHOOK = Path(sys.executable).parent / "billhook"

# The fleet's calendar: the clock starts half a day before every subscription does, so the workers
# both open each subscription (the in-advance opening invoice) and close its first period.
FLEET_CLOCK_START = datetime(2025, 12, 31, 12, 0, tzinfo=UTC)
FLEET_START = datetime(2026, 1, 1, tzinfo=UTC)
FLEET_FIRST_END = datetime(2026, 2, 1, tzinfo=UTC)
FLEET_SECOND_END = datetime(2026, 3, 1, tzinfo=UTC)
FLEET_NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)  # past the first period end, before the second

BASE = Decimal("10.00")
CENT = Decimal("0.01")
PER_CALL = Decimal("0.50")
FLEET_PLAN: dict[str, Any] = {
    "key": "fleet",
    "name": "Fleet",
    "currency": "EUR",
    "billingCadence": "P1M",
    "charges": [{"key": "base", "name": "Base fee", "price": {"type": "flat", "amount": str(BASE)}}],
    "items": [
        {
            "key": "calls",
            "name": "API calls",
            "usageType": "metered",
            "price": {"type": "unit", "amount": str(PER_CALL)},
        }
    ],
}


@dataclass
class Fleet:
    """Subscriptions set up through the services, with the quantity each one used."""

    runtime: Runtime
    quantities: dict[str, Decimal] = field(default_factory=dict)  # subscription id → calls

    @property
    def size(self) -> int:
        return len(self.quantities)

    def expected_period_total(self, sub_id: str) -> str:
        # January's calls in arrears (to the cent, half-even), plus February's base fee in advance
        usage = (self.quantities[sub_id] * PER_CALL).quantize(CENT, rounding=ROUND_HALF_EVEN)
        return str(usage + BASE)


def fleet(database_url: str, n: int, *, clock_start: datetime = FLEET_CLOCK_START) -> Fleet:
    """``n`` customers, each with one subscription starting at FLEET_START and a metered quantity set;
    then the test clock moves past the first period end without processing anything (the clock is only
    a row: nothing runs until a worker looks). With ``clock_start`` at FLEET_START the subscriptions
    are opened as they are made, so that the worker only closes their first periods."""
    rt = Runtime.start(Settings(database_url=database_url, test_clock=True, test_clock_start=clock_start))
    actor = Actor("default", "e2e-setup")
    result = Fleet(rt)
    with rt.uows.write() as uow:
        plans.create(uow, actor, FLEET_PLAN)
    for chunk in range(0, n, 100):
        with rt.uows.write() as uow:
            for i in range(chunk, min(n, chunk + 100)):
                customer = customers.create(
                    uow, actor, {"key": f"c{i:04d}", "name": f"Customer {i}", "currency": "EUR"}
                )
                sub = subscriptions.create(
                    uow, actor, {"customerId": customer["id"], "plan": "fleet", "startAt": FLEET_START}
                )
                calls = Decimal(i % 97 + 1) + Decimal("0.25") * (i % 4)
                items.change(uow, actor, sub["id"], "calls", "set", str(calls))
                result.quantities[sub["id"]] = calls
    jump_clock(rt, FLEET_NOW)
    return result


def jump_clock(rt: Runtime, to: datetime) -> None:
    """Put the default namespace's test clock at ``to`` in one jump, not a walk (set-up for tests of the
    worker itself): a worker then finds everything due by ``to`` due at once."""
    assert isinstance(rt.clock, StoredTestClock)
    with rt.uows.write() as uow:
        rt.clock.set(uow.conn, to)


def closed_count(rt: Runtime) -> int:
    """Subscriptions whose first period has been closed (committed)."""
    with rt.uows(readonly=True) as uow:
        return int(
            uow.conn.execute(
                select(func.count()).select_from(subscriptions_t).where(subscriptions_t.c.period_start > FLEET_START)
            ).scalar_one()
        )


def pending_count(rt: Runtime) -> int:
    """Subscriptions or invoices due by the test clock's now, leased or not."""
    with rt.uows(readonly=True) as uow:
        return rt.worker().pending(uow)


def check_fleet(f: Fleet) -> dict[str, int]:
    """Every period invoiced exactly once, paid, with the right total; numbers gap-free; history intact.

    Returns how many invoice transitions each worker recorded.
    """
    n = f.size
    with f.runtime.uows(readonly=True) as uow:
        conn = uow.conn
        subs = conn.execute(select(subscriptions_t)).all()
        invs = conn.execute(select(invoices)).all()
        transitions = conn.execute(
            select(invoice_transitions.c.invoice_id, invoice_transitions.c.seq, invoice_transitions.c.actor)
        ).all()

    assert len(subs) == n
    for s in subs:  # each period start moved on exactly once, and nothing is left leased or due
        assert (s.status, s.period_start, s.period_end, s.next_billing_at) == (
            "active",
            FLEET_FIRST_END,
            FLEET_SECOND_END,
            FLEET_SECOND_END,
        ), s.id
        assert s.opened_at is not None
        assert (s.lease_owner, s.lease_until) == (None, None), s.id

    by_kind: dict[str, list[Any]] = {"opening": [], "period": [], "gathering": []}
    for inv in invs:
        by_kind["gathering" if inv.status == "gathering" else inv.kind].append(inv)
    assert sorted(by_kind) == ["gathering", "opening", "period"], {i.kind for i in invs}

    period_keys = Counter((i.subscription_id, i.period_start) for i in by_kind["period"])
    duplicates = {k: c for k, c in period_keys.items() if c > 1}
    assert not duplicates, f"periods invoiced more than once: {list(duplicates.items())[:5]}"
    assert set(period_keys) == {(sid, FLEET_START) for sid in f.quantities}, "a period was not invoiced"
    for inv in by_kind["period"]:
        assert inv.status == "paid", (inv.id, inv.extended_status)
        assert inv.period_end == FLEET_FIRST_END
        assert str(inv.total) == f.expected_period_total(inv.subscription_id), (inv.id, inv.total)

    openings = Counter(i.subscription_id for i in by_kind["opening"])
    assert openings == dict.fromkeys(f.quantities, 1), "not exactly one opening invoice per subscription"
    for inv in by_kind["opening"]:
        assert (inv.status, str(inv.total), inv.period_start, inv.period_end) == (
            "paid",
            str(BASE),
            FLEET_START,
            FLEET_FIRST_END,
        ), inv.id

    gathering = Counter((i.subscription_id, i.period_start) for i in by_kind["gathering"])
    assert gathering == {(sid, FLEET_FIRST_END): 1 for sid in f.quantities}, "not one open February per subscription"

    issued = by_kind["opening"] + by_kind["period"]
    assert len(issued) == 2 * n
    numbers = sorted(i.number for i in issued)
    assert numbers == [f"INV-{k:06d}" for k in range(1, 2 * n + 1)], "invoice numbers are not unique and gap-free"
    assert all(i.number.startswith("DRAFT-") for i in by_kind["gathering"])

    seqs: dict[str, list[int]] = {}
    for t in transitions:
        seqs.setdefault(t.invoice_id, []).append(t.seq)
    for inv in issued:  # one history row per version the invoice went through, none twice
        assert sorted(seqs.get(inv.id, [])) == list(range(2, inv.version + 1)), inv.id
    assert not any(seqs.get(i.id) for i in by_kind["gathering"])

    return dict(Counter(t.actor for t in transitions if t.actor.startswith("worker:")))


# --------------------------------------------------------------------------------------------- processes


_COLOR_FORCING = ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus any BILLHOOK_* settings of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLHOOK_") and k not in _COLOR_FORCING}
    # plain text, one message a line: rich would wrap at the terminal width and colour when forced to
    env |= {"PYTHONUNBUFFERED": "1", "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return env | extra


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def describe(self) -> str:
        return f"pid {self.pid}, rc {self.popen.poll()}\n--- stdout\n{self.out()}\n--- stderr\n{self.err()[-4000:]}"


def spawn(args: list[str], *, env: dict[str, str], cwd: Path, label: str) -> Proc:
    out, err = cwd / f"{label}.out", cwd / f"{label}.err"
    with out.open("wb") as o, err.open("wb") as e:
        popen = subprocess.Popen([str(BILLHOOK), *args], env=env, cwd=cwd, stdout=o, stderr=e)
    return Proc(popen, out, err)


def stop(proc: Proc, *, timeout: float = 20.0) -> int | None:
    """SIGTERM, wait; SIGKILL if it does not stop in time. Returns the exit code."""
    if proc.alive():
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(timeout=timeout)
    return proc.popen.returncode


def kill(proc: Proc) -> None:
    if proc.alive():
        proc.popen.kill()
        proc.popen.wait(timeout=20)


@contextmanager
def running(procs: list[Proc]) -> Iterator[list[Proc]]:
    """Make sure every process in ``procs`` (which the body may extend) is gone afterwards."""
    try:
        yield procs
    finally:
        for p in procs:
            try:
                stop(p, timeout=10)
            except Exception:
                kill(p)


def run_cli(
    args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BILLHOOK), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_for(
    condition: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 0.2,
    what: str,
    procs: Sequence[Proc] = (),
) -> Any:
    """Poll until ``condition()`` is truthy; fail naming ``what`` after ``timeout`` s or when a process dies."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        for p in procs:
            if not p.alive():
                raise AssertionError(f"process exited while waiting for {what}: {p.describe()}")
        if time.monotonic() > deadline:
            details = "\n".join(p.describe() for p in procs)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{details}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        BILLHOOK_DATABASE_URL=database_url,
        BILLHOOK_TEST_CLOCK="1",
        BILLHOOK_WORKER_POLL_SECONDS="0.05",
        **extra,
    )


def failures(proc: Proc) -> list[str]:
    """Errors a worker logged (it carries on past them; a row that failed waits for its lease to expire)."""
    return [line for line in (proc.out() + proc.err()).splitlines() if "_failed" in line or "Traceback" in line]


def worker_name(proc: Proc) -> str | None:
    """The name the worker announced on stderr ("worker <name> running on …"), once it runs."""
    for line in proc.err().splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] == "worker" and words[2:4] == ["running", "on"]:
            return words[1]
    return None


def ready(base: str) -> bool:
    """The server at ``base`` answers /readyz."""
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def first_line(proc: Proc) -> str | None:
    """The first complete line a process printed (billhook serve's first API key)."""
    out = proc.out()
    return out.split("\n", 1)[0] if "\n" in out else None


class Client:
    """Calls to a served billhook's API that must answer as expected."""

    def __init__(self, base: str, key: str, timeout: float = 60) -> None:
        self.http = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=timeout)

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        r = self.http.request(method, path, json=body)
        assert r.status_code == status, f"{method} {path} → {r.status_code}: {r.text}"
        return r.json() if r.content else None

    def advance(self, to: str) -> None:
        assert self.call("POST", "/test-clock/advance?wait=true", {"to": to})["now"] == to

    def period_invoices(self, sub_id: str) -> list[dict[str, Any]]:
        items = self.call("GET", f"/billing/invoices?subscription={sub_id}&expand=lines&pageSize=100")["items"]
        return sorted((i for i in items if i["status"] != "gathering"), key=lambda i: i["number"])
