"""Shared by the benchmarks: fresh databases, a fast set-up of N renewing subscriptions, row counts.

The set-up writes, with plain SQLAlchemy Core bulk inserts, exactly the rows the engine would have
for N subscriptions that were opened at ``START`` and whose first period ends at ``RENEWAL``: N
customers, N subscriptions, their gathering invoices and three item quantities each. The plan, the
namespace's default billing profile and its sandbox app are made once through the services, and
their ids and the snapshotted workflow are reused for every row. ``check_setup_shape`` compares a
bulk-inserted subscription with one made through the services, column by column.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy.engine import make_url

from billhook.config import Settings
from billhook.ids import new_id
from billhook.runtime import Runtime
from billhook.services import invoices, plans, profiles, test_clock, webhooks
from billhook.services.common import Actor
from billhook.store import schema
from billhook.store.clock import StoredTestClock
from billhook.worker.loop import Worker

PG_ADMIN_URL = os.environ.get("BILLHOOK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NAMESPACE = "default"
START = datetime(2026, 1, 1, tzinfo=UTC)  # every subscription started (and was opened) here
RENEWAL = datetime(2026, 2, 1, tzinfo=UTC)  # ... and renews here: the instant the clock advances to
NEXT_RENEWAL = datetime(2026, 3, 1, tzinfo=UTC)
CLOCK_BEFORE = RENEWAL - timedelta(minutes=1)
BATCH = 1000
CENT = Decimal("0.01")

BASE_FEE = Decimal("29.00")
ITEMS = (  # key, name, included quantity, unit price
    ("api_calls", "API calls", Decimal("1000"), Decimal("0.002")),
    ("storage_gb", "Storage (GB)", Decimal("10"), Decimal("0.25")),
    ("emails", "Emails", Decimal("0"), Decimal("0.01")),
)
PLAN: dict[str, Any] = {
    "key": "bench",
    "name": "Bench",
    "currency": "EUR",
    "billingCadence": "P1M",
    "charges": [{"key": "base", "name": "Base fee", "price": {"type": "flat", "amount": str(BASE_FEE)}}],
    "items": [
        {
            "key": key,
            "name": name,
            "includedQuantity": str(included),
            "usageType": "metered",
            "price": {"type": "unit", "amount": str(price)},
        }
        for key, name, included, price in ITEMS
    ],
}

# What the engine writes when a period closes, in foreign-key order (the floor inserts them in this order).
ENGINE_TABLES: tuple[Table, ...] = (
    schema.invoices,
    schema.item_quantities,
    schema.invoice_lines,
    schema.invoice_transitions,
    schema.events,
    schema.webhook_deliveries,
    schema.webhook_attempts,
)


# ---------------------------------------------------------------------------------------- databases


def _pg_url(dbname: str) -> str:
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=dbname)
    return url.render_as_string(hide_password=False)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def fresh_database(kind: str, *, keep: bool = False) -> Iterator[str]:
    """A new, empty database (SQLAlchemy URL): an SQLite file in a temporary directory, or
    ``bench_<random>`` on the PostgreSQL server, dropped afterwards (unless ``keep``)."""
    if kind == "sqlite":
        directory = tempfile.mkdtemp(prefix="billhook-bench-")
        try:
            yield f"sqlite:///{directory}/bench.db"
        finally:
            if keep:
                print(f"kept {directory}/bench.db")
            else:
                shutil.rmtree(directory, ignore_errors=True)
    elif kind == "postgresql":
        name = f"bench_{uuid.uuid4().hex[:12]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        try:
            yield _pg_url(name)
        finally:
            if keep:
                print(f"kept database {name}")
            else:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        raise ValueError(f"unknown database kind {kind!r}: sqlite or postgresql")


def start_runtime(url: str, clock_start: datetime = START) -> Runtime:
    """Migrations applied, test clock on (its row made, at ``clock_start`` if new)."""
    return Runtime.start(Settings(database_url=url, test_clock=True, test_clock_start=clock_start))


def renewal_worker(rt: Runtime, chunk_size: int = Settings.worker_chunk_size) -> Worker:
    """The test clock advanced to the renewal instant, and a worker in this process to drain what fell
    due (billhook's batch size)."""
    with rt.uows.write() as uow:
        test_clock.advance(uow, to=RENEWAL)
    return Worker(
        rt.uows,
        batch_size=Settings.worker_batch_size,
        chunk_size=chunk_size,
        poll_interval=0.05,
        allow_private_webhooks=True,
    )


def set_clock(rt: Runtime, to: datetime) -> None:
    """Move the test clock (set-up only: the benchmark itself advances it through the service)."""
    assert isinstance(rt.clock, StoredTestClock)
    with rt.uows.write() as uow:
        rt.clock.set(uow.conn, to)


def count_rows(engine: Engine, tables: Sequence[Table] | None = None) -> dict[str, int]:
    tables = tables if tables is not None else schema.metadata.sorted_tables
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables}


def bulk_insert(engine: Engine, table: Table, rows: Sequence[dict[str, Any]], batch: int = BATCH) -> None:
    """Plain Core executemany inserts, ``batch`` rows per statement, one transaction per batch."""
    for i in range(0, len(rows), batch):
        with engine.begin() as conn:
            conn.execute(insert(table), list(rows[i : i + batch]))


# ---------------------------------------------------------------------------------------- the set-up


def quantities(i: int) -> dict[str, Decimal]:
    """Subscription ``i``'s tracked quantities for the period (all above zero, some fractional)."""
    return {
        "api_calls": Decimal(500 + (i * 37) % 20_000),
        "storage_gb": (Decimal(1 + i % 400) / 4).normalize(),  # quarters: 0.25 × 0.25 rounds half-even
        "emails": Decimal(1 + (i * 7) % 1_500),
    }


def expected_total(i: int) -> Decimal:
    """What subscription ``i``'s renewal invoice must total, computed here, not by the engine."""
    q = quantities(i)
    total = BASE_FEE  # the next period's base fee, in advance
    for key, _name, included, price in ITEMS:
        total += (max(Decimal(0), q[key] - included) * price).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return total


@dataclass
class Setup:
    url: str
    n: int
    plan_id: str
    profile_id: str
    workflow: dict[str, Any]
    subscription_ids: list[str] = field(default_factory=list)
    customer_ids: list[str] = field(default_factory=list)
    gathering_ids: list[str] = field(default_factory=list)
    endpoint_id: str | None = None
    api_key: str | None = None
    seconds: float = 0.0

    def expected(self) -> dict[str, Decimal]:
        """Expected renewal total per subscription id."""
        return {sub: expected_total(i) for i, sub in enumerate(self.subscription_ids)}


def prepare_namespace(
    rt: Runtime, *, billable_url: str | None = None, api_key: bool = False
) -> tuple[str, str, dict[str, Any], str | None, str | None]:
    """Through the services, once: the plan, the default profile (with billableGrace PT0S when a
    billable listener is given), its webhook endpoint, an API key. Returns the ids and the workflow."""
    actor = Actor(NAMESPACE, "bench")
    endpoint_id = key = None
    with rt.uows.write() as uow:
        plan_id = plans.create(uow, actor, PLAN)["id"]
        snap = invoices.snapshot(uow, NAMESPACE, "no-customer")  # makes the default profile and sandbox app
        if billable_url is not None:
            profile = profiles.find(uow, NAMESPACE, snap["profile_id"])
            profiles.replace(
                uow,
                actor,
                profile.id,
                {
                    "name": profile.name,
                    "supplier": profile.supplier,
                    "default": True,
                    "workflow": {"invoicing": {"billableGrace": "PT0S"}},
                },
            )
            snap = invoices.snapshot(uow, NAMESPACE, "no-customer")
            endpoint = webhooks.create_endpoint(
                uow,
                actor,
                {"url": billable_url, "eventTypes": ["subscription.billable"], "description": "bench listener"},
                allow_private=True,
            )
            endpoint_id = endpoint["id"]
        if api_key:
            from billhook.services import apikeys

            key = apikeys.create(uow, NAMESPACE, name="bench")
    return plan_id, snap["profile_id"], snap, endpoint_id, key


def setup(rt: Runtime, n: int, *, billable_url: str | None = None, api_key: bool = False) -> Setup:
    """N subscriptions, opened at START, renewing at RENEWAL; the clock left just before RENEWAL."""
    t0 = time.perf_counter()
    plan_id, profile_id, snap, endpoint_id, key = prepare_namespace(rt, billable_url=billable_url, api_key=api_key)
    s = Setup(rt.settings.database_url, n, plan_id, profile_id, snap["workflow"], endpoint_id=endpoint_id, api_key=key)
    rows = subscription_rows(n, plan_id, snap)
    for table, name in (
        (schema.customers, "customers"),
        (schema.subscriptions, "subscriptions"),
        (schema.invoices, "invoices"),
        (schema.item_quantities, "item_quantities"),
    ):
        bulk_insert(rt.engine, table, rows[name])
    if rt.engine.dialect.name == "postgresql":
        # Statistics for the loaded rows, as autovacuum takes after a bulk load on a production server
        # (this machine's server runs with autovacuum off: without them the planner guesses, and may
        # scan a whole table for a chunk's lookups).
        with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    s.customer_ids = [r["id"] for r in rows["customers"]]
    s.subscription_ids = [r["id"] for r in rows["subscriptions"]]
    s.gathering_ids = [r["id"] for r in rows["invoices"]]
    set_clock(rt, CLOCK_BEFORE)
    s.seconds = time.perf_counter() - t0
    return s


def subscription_rows(
    n: int,
    plan_id: str,
    snap: dict[str, Any],
    *,
    first: int = 0,
    at: datetime = START,
    renewal: datetime = RENEWAL,
) -> dict[str, list[dict[str, Any]]]:
    """The rows for subscriptions ``first`` … ``first + n - 1``, as subscriptions.create and
    billing.open_subscription leave them once opened at ``at`` (without their opening invoices),
    their first period ending at ``renewal`` (a month later: the plan is monthly)."""
    out: dict[str, list[dict[str, Any]]] = {"customers": [], "subscriptions": [], "invoices": [], "item_quantities": []}
    zero = Decimal("0.00")
    for i in range(first, first + n):
        customer_id, sub_id, invoice_id = new_id(), new_id(), new_id()
        out["customers"].append(
            {
                "id": customer_id,
                "namespace": NAMESPACE,
                "key": f"bench-{i:07d}",
                "name": f"Bench customer {i}",
                "description": None,
                "primary_email": None,
                "currency": "EUR",
                "billing_address": None,
                "usage_attribution": None,
                "metadata": None,
                "created_at": at,
                "updated_at": at,
                "deleted_at": None,
            }
        )
        out["subscriptions"].append(
            {
                "id": sub_id,
                "namespace": NAMESPACE,
                "customer_id": customer_id,
                "plan_id": plan_id,
                "status": "active",
                "start_at": at,
                "billing_anchor": at,
                "opened_at": at,
                "trial_end": None,
                "period_start": at,
                "period_end": renewal,
                "next_billing_at": renewal,
                "cancel_at": None,
                "canceled_at": None,
                "ended_at": None,
                "metadata": None,
                "created_at": at,
                "updated_at": at,
                "lease_owner": None,
                "lease_until": None,
            }
        )
        out["invoices"].append(
            {
                "id": invoice_id,
                "namespace": NAMESPACE,
                "customer_id": customer_id,
                "subscription_id": sub_id,
                "kind": "period",
                "currency": "EUR",
                "status": "gathering",
                "extended_status": "gathering",
                "number": f"DRAFT-{invoice_id}",
                "period_start": at,
                "period_end": renewal,
                "description": None,
                **snap,
                "amount": zero,
                "charges_total": zero,
                "discounts_total": zero,
                "credits_total": zero,
                "taxes_total": zero,
                "total": zero,
                "validation_issues": [],
                "external_invoicing_id": None,
                "external_payment_id": None,
                "metadata": None,
                "created_at": at,
                "updated_at": at,
                "issued_at": None,
                "draft_until": None,
                "due_at": None,
                "voided_at": None,
                "paid_at": None,
                "sent_to_customer_at": None,
                "draft_synced_at": None,
                "draft_sync": None,
                "removed_lines": None,
                "issuing_sync": None,
                "deleted_at": None,
                "version": 1,
                "next_action_at": None,
                "lease_owner": None,
                "lease_until": None,
            }
        )
        for key, q in quantities(i).items():
            out["item_quantities"].append(
                {"invoice_id": invoice_id, "item_key": key, "namespace": NAMESPACE, "quantity": q, "updated_at": at}
            )
    return out


# ---------------------------------------------------------------------------------------- self-check


_VARYING = {"id", "customer_id", "subscription_id", "invoice_id", "number", "key", "name", "plan_id"}


def check_setup_shape() -> None:
    """Bulk-insert one subscription and make another through the services in a throwaway SQLite
    database; their customer, subscription, gathering invoice and quantities must agree in every
    column but ids and names. Raises AssertionError naming the first difference."""
    from billhook.services import customers, items, subscriptions

    with fresh_database("sqlite") as url:
        rt = start_runtime(url)
        try:
            _, _, snap, _, _ = prepare_namespace(rt)
            with rt.engine.connect() as conn:
                plan_id = conn.execute(select(schema.plans.c.id)).scalar_one()
            rows = subscription_rows(1, plan_id, snap)
            for name in ("customers", "subscriptions", "invoices", "item_quantities"):
                bulk_insert(rt.engine, schema.metadata.tables[name], rows[name])
            actor = Actor(NAMESPACE, "bench")
            with rt.uows.write() as uow:
                cust = customers.create(uow, actor, {"key": "by-service", "name": "By service"})
                sub = subscriptions.create(uow, actor, {"customerId": cust["id"], "plan": PLAN["key"]})
            with rt.uows.write() as uow:
                for key, q in quantities(0).items():
                    items.change(uow, actor, sub["id"], key, "set", str(q))
            bulk = {"customers": rows["customers"][0]["id"], "subscriptions": rows["subscriptions"][0]["id"]}
            made = {"customers": cust["id"], "subscriptions": sub["id"]}
            with rt.engine.connect() as conn:
                for name, col in (("customers", "id"), ("subscriptions", "id")):
                    t = schema.metadata.tables[name]
                    a = conn.execute(select(t).where(t.c[col] == bulk[name])).one()._asdict()
                    b = conn.execute(select(t).where(t.c[col] == made[name])).one()._asdict()
                    _same(name, a, b)
                inv = schema.invoices
                period = (inv.c.kind == "period") & (inv.c.status == "gathering")
                a_inv = conn.execute(select(inv).where(period, inv.c.customer_id == bulk["customers"])).one()
                b_inv = conn.execute(select(inv).where(period, inv.c.customer_id == made["customers"])).one()
                _same("invoices", a_inv._asdict(), b_inv._asdict())
                iq = schema.item_quantities
                order = iq.c.item_key
                qa = [r._asdict() for r in conn.execute(select(iq).where(iq.c.invoice_id == a_inv.id).order_by(order))]
                qb = [r._asdict() for r in conn.execute(select(iq).where(iq.c.invoice_id == b_inv.id).order_by(order))]
                assert len(qa) == len(qb) == len(ITEMS), f"item_quantities: {len(qa)} bulk rows, {len(qb)} by service"
                for x, y in zip(qa, qb, strict=True):
                    _same("item_quantities", x, y)
        finally:
            rt.close()


def _same(table: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    for column in a:
        if column in _VARYING:
            continue
        assert a[column] == b[column], (
            f"set-up differs from the engine in {table}.{column}: {a[column]!r} != {b[column]!r}"
        )


# ---------------------------------------------------------------------------------------- processes


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM), in MB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def code_version() -> str:
    """Which billhook is measured: the git commit of this checkout, and a digest of the imported
    package's sources (it differs from the commit's when src/ has uncommitted changes, or when
    PYTHONPATH points at a frozen copy: ``git archive HEAD src | tar -x -C /tmp/frozen``)."""
    import hashlib
    import subprocess
    from pathlib import Path

    import billhook

    package = Path(billhook.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        head = "?"
    return f"checkout {head or '?'}, billhook from {package.parent}, sources {digest.hexdigest()[:12]}"


def machine_reference_ms() -> float:
    """How fast this machine runs Python: the best of five runs of a fixed workload of the kind the
    worker does (Decimal arithmetic rounded half-even, dicts, strings, orjson), in milliseconds.

    The targets are absolute (invoices per second on "this machine"), and sessions run on machines
    that differ by more than the code does; printed beside every table, this figure says how far
    two tables taken on different machines may be compared. It is not billhook's code, so a change
    to billhook never moves it."""
    import orjson

    cent = Decimal("0.01")

    def workload() -> bytes:
        rows = []
        total = Decimal(0)
        for i in range(20_000):
            amount = (Decimal(i) / 7).quantize(cent, rounding=ROUND_HALF_EVEN)
            total += amount
            rows.append({"id": f"line-{i:06d}", "amount": str(amount), "total": str(total)})
        return orjson.dumps(rows)

    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        workload()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def provenance() -> str:
    """The line printed under every table: the date, which billhook was measured, and the machine."""
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {code_version()}; "
        f"machine: {os.cpu_count()} cores, Python reference workload {machine_reference_ms():.1f} ms"
    )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_line(path: str, needle: str, timeout: float, proc: Any = None) -> None:
    """Wait until the log at ``path`` contains ``needle`` (the process announced it is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                if needle in f.read():
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before it was ready; see {path}")
        time.sleep(0.05)
    raise TimeoutError(f"{needle!r} did not appear in {path} within {timeout:.0f} s")


def problems_in_log(path: str, limit: int = 5) -> tuple[int, list[str]]:
    """How many error lines the log has (errors, warnings, tracebacks, ``*_failed`` events), and the first few."""
    bad: list[str] = []
    count = 0
    try:
        with open(path, errors="replace") as f:
            for line in f:
                low = line.lower()
                if any(word in low for word in ("error", "exception", "traceback", "warning", "failed")):
                    count += 1
                    if len(bad) < limit:
                        bad.append(line.rstrip()[:300])
    except OSError:
        pass
    return count, bad


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (what the README keeps)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| "
        + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        + " |"
        for r in cells
    ]
    return "\n".join([line, sep, *body])


def start_listener(logdir: str) -> tuple[subprocess.Popen[bytes], str, str]:
    """bench/listener.py in its own process: (the process, its URL, the file it records webhook-ids in)."""
    port = free_port()
    out = os.path.join(logdir, "received.txt")
    log = os.path.join(logdir, "listener.log")
    with open(log, "wb") as f:
        p = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("listener.py")), "--port", str(port), "--out", out],
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    wait_for_line(log, "listening on", 30, p)
    return p, f"http://127.0.0.1:{port}/", out
