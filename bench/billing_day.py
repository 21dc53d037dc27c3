"""Billing day: N subscriptions renew at the same instant; how long until all N invoices are paid?

    .venv/bin/python bench/billing_day.py --db sqlite --n 1000 --workers 1
    .venv/bin/python bench/billing_day.py --db sqlite,postgresql --n 1000,10000 --workers 1,2
    .venv/bin/python bench/billing_day.py --db postgresql --n 1000 --workers 2 --billable

For each combination: a fresh database, N subscriptions set up with bulk inserts (bench/common.py),
W ``billhook worker`` processes started and idle, then the test clock advanced to the renewal
instant. Engine time runs from that advance until every one of the N renewal invoices is ``paid``
(the sandbox app settles by itself). Then the results are checked (every invoice paid, each total to
the cent as computed here, one invoice per subscription period, numbers gap-free, every billable
delivery succeeded and received), and the FLOOR is measured: the same rows the engine wrote, copied
into another fresh database with plain Core bulk inserts in batches of 1,000, in one process.

With ``--billable``: a listener process (bench/listener.py) answering 200 at once is subscribed to
``subscription.billable``, and the default profile's ``billableGrace`` is PT0S, so every invoice
waits for its delivery and goes on as soon as it succeeded.

Exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import common
from sqlalchemy import Engine, func, insert, select

from billhook.events.catalog import BILLABLE
from billhook.services import test_clock
from billhook.store import schema
from billhook.store.db import make_engine

BIN = Path(sys.executable).parent
inv = schema.invoices


@dataclass
class Result:
    db: str
    n: int
    workers: int
    billable: bool
    setup_s: float = 0.0
    engine_s: float = 0.0
    floor_s: float = 0.0
    peak_mb: list[float] = field(default_factory=list)
    worker_cpu_s: float = 0.0  # user + system CPU of the workers during the run (the database server's not counted)
    load: float = 0.0  # mean 1-minute load average while the engine ran (the machine has 2 cores)
    deliveries: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    code: str = ""
    checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.n / self.engine_s if self.engine_s else 0.0

    @property
    def ms_per_invoice(self) -> float:
        return 1000 * self.engine_s / self.n if self.n else 0.0

    @property
    def efficiency(self) -> float:
        return self.floor_s / self.engine_s if self.engine_s else 0.0


# ---------------------------------------------------------------------------------------- processes


def start_workers(
    url: str, count: int, logdir: str, batch_size: int | None, chunk_size: int | None
) -> list[tuple[subprocess.Popen[bytes], str]]:
    env = os.environ | {
        "BILLHOOK_DATABASE_URL": url,
        "BILLHOOK_TEST_CLOCK": "1",
        "BILLHOOK_WEBHOOK_ALLOW_PRIVATE": "1",
        "BILLHOOK_WORKER_POLL_SECONDS": "0.1",
        "COLUMNS": "400",  # the ready line must not wrap
    }
    if batch_size is not None:  # else billhook's defaults, as a deployment has them
        env["BILLHOOK_WORKER_BATCH_SIZE"] = str(batch_size)
    if chunk_size is not None:
        env["BILLHOOK_WORKER_CHUNK_SIZE"] = str(chunk_size)
    procs = []
    for i in range(count):
        log = os.path.join(logdir, f"worker-{i}.log")
        with open(log, "wb") as f:
            p = subprocess.Popen([str(BIN / "billhook"), "worker"], env=env, stdout=f, stderr=subprocess.STDOUT)
        procs.append((p, log))
    for p, log in procs:
        common.wait_for_line(log, "running on", 60, p)
    return procs


def stop(procs: list[tuple[subprocess.Popen[bytes], str]]) -> None:
    for p, _ in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p, _ in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---------------------------------------------------------------------------------------- engine run


def paid_count(engine: Engine) -> int:
    """Paid invoices: the set-up made no other invoice, so these are the renewals (the namespace and
    status filter uses an index: the poll must stay cheap next to the workers)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(inv).where(inv.c.namespace == common.NAMESPACE, inv.c.status == "paid")
            ).scalar_one()
        )


def run_engine(rt: Any, s: common.Setup, r: Result, args: argparse.Namespace, logdir: str) -> bool:
    """Advance the clock with the workers idle, and wait until all N are paid; False on timeout."""
    procs = start_workers(s.url, r.workers, logdir, args.batch_size, args.chunk_size)
    watcher = make_engine(s.url, pool_size=1)
    timeout = args.timeout_base + args.timeout_per_invoice * r.n
    done = False
    try:
        with rt.uows.write() as uow:
            test_clock.advance(uow, to=common.RENEWAL)
            uow.commit()
        cpu0 = sum(common.cpu_seconds(p.pid) or 0.0 for p, _ in procs)
        t0 = time.perf_counter()
        last_report = t0
        loads: list[float] = []
        while True:
            loads.append(os.getloadavg()[0])
            paid = paid_count(watcher)
            now = time.perf_counter()
            if paid >= r.n:
                done = True
                break
            if now - t0 > timeout:
                r.failures.append(f"timeout: {paid} of {r.n} paid after {now - t0:.0f} s")
                break
            if now - last_report >= 30:
                rate = paid / (now - t0)
                print(f"  … {paid}/{r.n} paid after {now - t0:.0f} s ({rate:.1f}/s)", file=sys.stderr, flush=True)
                last_report = now
            time.sleep(min(1.0, max(0.1, (now - t0) / 100)))  # at most 1 % of the elapsed time
        r.engine_s = time.perf_counter() - t0
        r.peak_mb = [round(m, 1) for m in (common.peak_rss_mb(p.pid) for p, _ in procs) if m is not None]
        r.worker_cpu_s = sum(common.cpu_seconds(p.pid) or 0.0 for p, _ in procs) - cpu0
        r.load = sum(loads) / len(loads) if loads else 0.0
    finally:
        stop(procs)
        watcher.dispose()
    for i, (p, log) in enumerate(procs):
        count, lines = common.problems_in_log(log)
        if count:
            r.problems.append(f"worker {i} log has {count} error/warning line(s), e.g. {lines[0]}")
        if p.returncode not in (0, -signal.SIGTERM):
            r.problems.append(f"worker {i} exited with {p.returncode}")
    return done


# ---------------------------------------------------------------------------------------- checks


def verify(engine: Engine, s: common.Setup, r: Result, received: str | None) -> None:
    def check(ok: bool, what: str) -> None:
        (r.checks if ok else r.failures).append(what)

    n = s.n
    expected = s.expected()
    with engine.connect() as conn:
        period = conn.execute(
            select(inv.c.id, inv.c.subscription_id, inv.c.status, inv.c.total, inv.c.number, inv.c.lease_owner).where(
                inv.c.kind == "period", inv.c.period_start == common.START
            )
        ).all()
        by_sub = Counter(row.subscription_id for row in period)
        check(len(period) == n and set(by_sub) == set(expected), f"{n} renewal invoices, one per subscription")
        check(all(c == 1 for c in by_sub.values()), "no subscription period invoiced twice")
        unpaid = [row.id for row in period if row.status != "paid"]
        check(not unpaid, f"every invoice paid ({len(unpaid)} not)")
        wrong = [row.id for row in period if row.total != expected.get(row.subscription_id)]
        check(not wrong, f"every total as expected to the cent ({len(wrong)} differ)")
        total = sum((row.total for row in period), Decimal(0))
        want = sum(expected.values(), Decimal(0))
        check(total == want, f"sum of totals {total} EUR == expected {want} EUR")
        numbers = sorted(row.number for row in period)
        check(numbers == [f"INV-{i:06d}" for i in range(1, n + 1)], f"numbers INV-000001 … INV-{n:06d}, gap-free")
        lines = schema.invoice_lines
        lines = conn.execute(
            select(schema.invoice_lines.c.invoice_id, schema.invoice_lines.c.amount).where(
                schema.invoice_lines.c.invoice_id.in_(
                    select(inv.c.id).where(inv.c.kind == "period", inv.c.period_start == common.START)
                )
            )
        ).all()
        per_invoice: dict[str, list[Decimal]] = {}
        for line in lines:
            per_invoice.setdefault(line.invoice_id, []).append(line.amount)
        totals = {row.id: row.total for row in period}
        check(
            len(per_invoice) == n and all(len(a) == 1 + len(common.ITEMS) for a in per_invoice.values()),
            f"{1 + len(common.ITEMS)} lines on each invoice",
        )
        check(
            all(sum(a, Decimal(0)) == totals.get(i) for i, a in per_invoice.items()),
            "each invoice's total is the sum of its lines",
        )
        nxt = conn.execute(
            select(func.count(), func.count(func.distinct(inv.c.subscription_id))).where(
                inv.c.kind == "period", inv.c.period_start == common.RENEWAL, inv.c.status == "gathering"
            )
        ).one()
        check(tuple(nxt) == (n, n), f"{n} next gathering invoices, one per subscription")
        subs = schema.subscriptions
        renewed = conn.execute(
            select(func.count()).where(
                subs.c.period_start == common.RENEWAL,
                subs.c.next_billing_at == common.NEXT_RENEWAL,
                subs.c.lease_owner.is_(None),
            )
        ).scalar_one()
        check(renewed == n, f"every subscription in its next period, no lease left ({n - renewed} not)")
        held = [row.id for row in period if row.lease_owner is not None]
        if held:
            r.problems.append(f"{len(held)} paid invoice(s) still leased")
        ev = schema.events
        kinds = Counter(
            (row.type)
            for row in conn.execute(
                select(ev.c.type).where(ev.c.subject_id.in_(select(inv.c.id).where(inv.c.period_start == common.START)))
            )
        )
        check(
            kinds["invoice.created"] == n and kinds["invoice.paid"] == n, "invoice.created and invoice.paid per invoice"
        )
        if received is not None:
            d = schema.webhook_deliveries
            rows = conn.execute(
                select(d.c.status, d.c.attempts, d.c.event_id, d.c.subject_id).where(d.c.event_type == BILLABLE)
            ).all()
            r.deliveries = sum(1 for x in rows if x.status == "succeeded")
            check(
                len(rows) == n and r.deliveries == n and {x.subject_id for x in rows} == {x.id for x in period},
                f"one subscription.billable delivery per invoice, all succeeded ({r.deliveries}/{len(rows)})",
            )
            retried = sum(1 for x in rows if x.attempts > 1)
            if retried:
                r.problems.append(f"{retried} billable deliveries needed more than one attempt")
            got = Path(received).read_text().split()
            check(
                set(got) == {x.event_id for x in rows},
                f"the listener received each webhook-id ({len(set(got))} distinct, {len(got)} requests)",
            )
            if len(got) != len(set(got)):
                r.problems.append(f"the listener received {len(got) - len(set(got))} duplicate webhook(s)")


# ---------------------------------------------------------------------------------------- floor

BASE_TABLES = (
    schema.namespaces,
    schema.apps,
    schema.billing_profiles,
    schema.plans,
    schema.customers,
    schema.subscriptions,
    schema.webhook_endpoints,
)


def engine_rows(t: Any) -> Any:
    """The rows of ``t`` the engine wrote at the renewal (the set-up's own quantities excluded)."""
    q = select(t)
    if t is schema.item_quantities:
        q = q.where(t.c.updated_at >= common.RENEWAL)
    return q


def floor(kind: str, engine_url: str, expected_rows: dict[str, int]) -> tuple[float, dict[str, int]]:
    """Copy what the engine wrote into a fresh database with Core bulk inserts; time the inserts only."""
    src = make_engine(engine_url, pool_size=2)
    copied: dict[str, int] = {}
    timed = 0.0
    try:
        with common.fresh_database(kind) as url:
            rt = common.start_runtime(url)
            try:
                with src.connect() as read:
                    for t in BASE_TABLES:  # what the engine's rows refer to: not timed
                        for part in read.execution_options(yield_per=common.BATCH).execute(select(t)).partitions():
                            with rt.engine.begin() as conn:
                                conn.execute(insert(t), [row._asdict() for row in part])
                    for t in common.ENGINE_TABLES:
                        copied[t.name] = 0
                        for part in read.execution_options(yield_per=common.BATCH).execute(engine_rows(t)).partitions():
                            batch = [row._asdict() for row in part]
                            started = time.perf_counter()
                            with rt.engine.begin() as conn:
                                conn.execute(insert(t), batch)
                            timed += time.perf_counter() - started
                            copied[t.name] += len(batch)
            finally:
                rt.close()
    finally:
        src.dispose()
    for name, want in expected_rows.items():
        if copied.get(name, 0) != want:
            raise AssertionError(f"floor copied {copied.get(name, 0)} {name} rows, the engine wrote {want}")
    return timed, copied


# ---------------------------------------------------------------------------------------- one run


def run(db: str, n: int, workers: int, args: argparse.Namespace) -> Result:
    r = Result(db, n, workers, args.billable, code=common.code_version())
    with tempfile.TemporaryDirectory(prefix="billhook-bench-logs-") as logdir:
        listener = None
        try:
            billable_url = received = None
            if args.billable:
                listener, billable_url, received = common.start_listener(logdir)
            with common.fresh_database(db, keep=args.keep) as url:
                rt = common.start_runtime(url)
                try:
                    s = common.setup(rt, n, billable_url=billable_url)
                    r.setup_s = s.seconds
                    before = common.count_rows(rt.engine, common.ENGINE_TABLES)
                    done = run_engine(rt, s, r, args, logdir)
                    if listener is not None:
                        listener.send_signal(signal.SIGTERM)
                        listener.wait(timeout=30)
                    after = common.count_rows(rt.engine, common.ENGINE_TABLES)
                    # period invoices were updated (gathering -> paid), the next gathering ones inserted
                    r.rows = {k: after[k] - before[k] for k in after}
                    r.rows["invoices"] += n
                    verify(rt.engine, s, r, received)
                    if args.keep_logs:
                        keep = tempfile.mkdtemp(prefix="billhook-bench-kept-")
                        for name in os.listdir(logdir):
                            Path(keep, name).write_bytes(Path(logdir, name).read_bytes())
                        print(f"logs kept in {keep}", file=sys.stderr)
                finally:
                    rt.close()
                if done and not args.no_floor:
                    r.floor_s, _ = floor(db, url, r.rows)
        finally:
            if listener is not None and listener.poll() is None:
                listener.kill()
                listener.wait()
    return r


# ---------------------------------------------------------------------------------------- report


def report(results: list[Result]) -> str:
    headers = [
        "db",
        "N",
        "workers",
        "engine s",
        "invoices/s",
        "ms/invoice",
        "worker CPU ms/invoice",
        "floor s",
        "efficiency",
        "worker peak MB",
        "load",
    ]
    billable = any(r.billable for r in results)
    if billable:
        headers.append("deliveries/s")
    headers.append("cost curve")
    base: dict[tuple[str, int, bool], float] = {}
    for r in sorted(results, key=lambda x: x.n):
        base.setdefault((r.db, r.workers, r.billable), r.ms_per_invoice)
    rows = []
    for r in results:
        row = [
            r.db + (" +billable" if r.billable else ""),
            f"{r.n:,}",
            r.workers,
            f"{r.engine_s:.1f}",
            f"{r.per_second:.1f}",
            f"{r.ms_per_invoice:.1f}",
            f"{1000 * r.worker_cpu_s / r.n:.1f}",
            f"{r.floor_s:.2f}",
            f"{r.efficiency:.3f}",
            " / ".join(f"{m:.0f}" for m in r.peak_mb),
            f"{r.load:.1f}",
        ]
        if billable:
            row.append(f"{r.deliveries / r.engine_s:.1f}" if r.billable and r.engine_s else "")
        b = base[(r.db, r.workers, r.billable)]
        row.append(f"{r.ms_per_invoice / b:.2f}×" if b else "")
        rows.append(row)
    return common.table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql, or both comma-separated")
    parser.add_argument("--n", default="1000", help="subscriptions renewing, e.g. 1000 or 1000,10000")
    parser.add_argument("--workers", default="1", help="worker processes, e.g. 1 or 1,2")
    parser.add_argument("--billable", action="store_true", help="a subscription.billable listener, grace PT0S")
    parser.add_argument("--batch-size", type=int, help="BILLHOOK_WORKER_BATCH_SIZE (default: billhook's)")
    parser.add_argument("--chunk-size", type=int, help="BILLHOOK_WORKER_CHUNK_SIZE (default: billhook's)")
    parser.add_argument("--timeout-base", type=float, default=120.0, help="seconds allowed, plus per invoice:")
    parser.add_argument("--timeout-per-invoice", type=float, default=1.0, help="seconds per invoice (default 1)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor measurement")
    parser.add_argument("--keep", action="store_true", help="keep the engine's database")
    parser.add_argument("--keep-logs", action="store_true", help="keep the worker and listener logs")
    parser.add_argument("--json", help="append each result as a JSON line to this file")
    args = parser.parse_args()
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    sizes = [int(x.replace("_", "")) for x in args.n.split(",")]
    counts = [int(x) for x in args.workers.split(",")]

    print(f"measuring {common.code_version()}", file=sys.stderr)
    common.check_setup_shape()
    print("set-up shape matches the engine's rows", file=sys.stderr)
    results: list[Result] = []
    for db in dbs:
        for workers in counts:
            for n in sizes:
                print(f"== {db}, N={n:,}, {workers} worker(s){', billable' if args.billable else ''}", file=sys.stderr)
                r = run(db, n, workers, args)
                results.append(r)
                status = "ok" if not r.failures else "FAILED: " + "; ".join(r.failures)
                print(
                    f"   set-up {r.setup_s:.1f} s, engine {r.engine_s:.1f} s (workers' CPU {r.worker_cpu_s:.1f} s, "
                    f"load {r.load:.1f}), floor {r.floor_s:.2f} s; checks {status}",
                    file=sys.stderr,
                )
                for c in r.checks:
                    print(f"   ✓ {c}", file=sys.stderr)
                for p in r.problems:
                    print(f"   ! {p}", file=sys.stderr)
                print(f"   rows written: {r.rows}", file=sys.stderr, flush=True)
                if args.json:
                    with open(args.json, "a") as f:
                        data = asdict(r) | {
                            "date": datetime.now(UTC).isoformat(timespec="seconds"),
                            "per_second": r.per_second,
                            "ms_per_invoice": r.ms_per_invoice,
                            "efficiency": r.efficiency,
                        }
                        f.write(json.dumps(data) + "\n")
    print(report(results))
    print(f"\n{common.provenance()}")
    failed = [r for r in results if r.failures]
    if failed:
        for r in failed:
            print(f"FAILED {r.db} N={r.n} workers={r.workers}: {'; '.join(r.failures)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
