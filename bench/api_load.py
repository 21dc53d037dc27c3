"""API under load: Set Item Quantity against its floor, from a separate process, loopback only.

    .venv/bin/python bench/api_load.py --db sqlite
    .venv/bin/python bench/api_load.py --db sqlite,postgresql --requests 5000 --threads 8

For each database: a fresh one with a few running subscriptions (bench/common.py set-up, one per
client thread), ``billhook serve`` started on a free loopback port with BILLHOOK_BENCH_FLOOR=1, and
a client process whose threads (one keep-alive connection each, a minimal client: ``KeepAlive``;
each thread on its own subscription) send a bounded number of requests:

- engine: ``PUT /api/v1/subscriptions/{id}/items/api_calls/quantity`` (Set Item Quantity)
- floor: ``PUT /api/v1/bench/floor/quantity/{invoiceId}/api_calls``: the same authentication and the
  same single-row UPDATE of item_quantities in one transaction, nothing else (benchmark-only route,
  registered only when BILLHOOK_BENCH_FLOOR=1, not in the OpenAPI document).

Reports requests per second, p50/p99 latency and the server's CPU time per request of each, and
efficiency = engine rps / floor rps. Checks: every response is 200, each Set Item Quantity answer
carries the quantity it set, and afterwards each subscription's quantity is the last one its thread
set. Exits non-zero if a check fails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import common
import httpx
from sqlalchemy import select

from billhook.config import Settings
from billhook.runtime import Runtime
from billhook.store import schema

BIN = Path(sys.executable).parent
ITEM = "api_calls"


@dataclass
class Target:
    subscription_id: str
    invoice_id: str


def quantity(k: int) -> str:
    return f"{1 + k % 5000}.{k % 10}"


class KeepAlive:
    """A minimal HTTP/1.1 client on one keep-alive loopback connection.

    The load generator shares the machine's two cores with the server and the database: httpx costs
    about 1 ms of CPU per request here, this about 0.1 ms, so the figures measure the server rather
    than the client. Enough of HTTP for this server's answers (a status line, headers, a body of
    Content-Length bytes).
    """

    def __init__(self, base: str, key: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        self.head = f"Host: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"

    def put(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        head = f"PUT {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(head.encode() + body)
        status_line = self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        length = 0
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), self.reader.read(length)

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *_: object) -> None:
        self.reader.close()
        self.sock.close()


def hammer(base: str, key: str, kind: str, targets: list[Target], requests: int, threads: int) -> dict[str, Any]:
    """In the client process: ``requests`` PUTs spread over ``threads`` threads; latencies in ms."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    last: dict[str, str] = {}
    errors: list[str] = []
    lock = threading.Lock()
    per_thread = [requests // threads + (1 if i < requests % threads else 0) for i in range(threads)]

    def run(i: int) -> None:
        target = targets[i % len(targets)]
        if kind == "engine":
            path = f"/api/v1/subscriptions/{target.subscription_id}/items/{ITEM}/quantity"
        else:
            path = f"/api/v1/bench/floor/quantity/{target.invoice_id}/{ITEM}"
        mine: list[float] = []
        codes: Counter[int] = Counter()
        q = ""
        with KeepAlive(base, key) as client:
            for k in range(per_thread[i]):
                q = quantity(i * 100_003 + k)
                started = time.perf_counter()
                try:
                    status, body = client.put(path, {"quantity": q})
                except OSError as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                mine.append((time.perf_counter() - started) * 1000)
                codes[status] += 1
                if status != 200 and len(errors) < 5:
                    with lock:
                        errors.append(f"{status}: {body[:200]!r}")
                elif kind == "engine" and status == 200 and Decimal(json.loads(body)["quantity"]) != Decimal(q):
                    with lock:
                        errors.append(f"answered {body[:200]!r} to a request that set {q}")
        with lock:
            latencies.extend(mine)
            statuses.update(codes)
            if per_thread[i]:
                last[target.subscription_id] = q

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, range(threads)))
    wall = time.perf_counter() - started
    return {"wall": wall, "latencies": latencies, "statuses": dict(statuses), "last": last, "errors": errors}


@dataclass
class Figures:
    kind: str
    requests: int
    seconds: float
    p50: float
    p99: float
    mean: float
    statuses: dict[int, int]
    server_cpu_ms: float | None = None  # the server process's user + system CPU per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def figures(kind: str, out: dict[str, Any]) -> Figures:
    lat = sorted(out["latencies"])
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [0.0] * 99
    return Figures(kind, len(lat), out["wall"], q[49], q[98], statistics.fmean(lat) if lat else 0.0, out["statuses"])


def current_month() -> tuple[datetime, datetime]:
    """The calendar month (UTC) the subscriptions are in: opened on its first day, renewing on the
    next month's, so that with the server on the system clock nothing falls due during the run."""
    now = datetime.now(UTC)
    at = datetime(now.year, now.month, 1, tzinfo=UTC)
    renewal = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    if renewal - now < timedelta(minutes=30):
        sys.exit(f"the month ends at {renewal:%Y-%m-%d %H:%M} UTC, within the run: run it after that")
    return at, renewal


def serve(url: str, logdir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = common.free_port()
    env = os.environ | {
        "BILLHOOK_DATABASE_URL": url,
        "BILLHOOK_BENCH_FLOOR": "1",
        "COLUMNS": "400",
    }
    log = os.path.join(logdir, "serve.log")
    with open(log, "wb") as f:
        p = subprocess.Popen(
            [str(BIN / "billhook"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    common.wait_for_line(log, "serving on", 60, p)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return p, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError("the server did not answer /healthz")


def run(db: str, args: argparse.Namespace) -> tuple[list[Figures], list[str]]:
    failures: list[str] = []
    results: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="billhook-bench-api-") as logdir, common.fresh_database(db) as url:
        at, renewal = current_month()
        rt = Runtime.start(Settings(database_url=url))  # the system clock, as in production
        try:
            _, _, snap, _, key = common.prepare_namespace(rt, api_key=True)
            with rt.engine.connect() as conn:
                plan_id = conn.execute(select(schema.plans.c.id)).scalar_one()
            rows = common.subscription_rows(args.threads, plan_id, snap, at=at, renewal=renewal)
            for name in ("customers", "subscriptions", "invoices", "item_quantities"):
                common.bulk_insert(rt.engine, schema.metadata.tables[name], rows[name])
        finally:
            rt.close()
        assert key is not None
        targets = [Target(s["id"], i["id"]) for s, i in zip(rows["subscriptions"], rows["invoices"], strict=True)]
        server, base = serve(url, logdir)
        try:
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as client:
                for kind in ("engine", "floor"):  # warm-up: connections, caches, code paths
                    client.submit(hammer, base, key, kind, targets, args.warmup, args.threads).result()
                for kind in ("engine", "floor"):
                    cpu0 = common.cpu_seconds(server.pid)
                    out = client.submit(hammer, base, key, kind, targets, args.requests, args.threads).result()
                    cpu1 = common.cpu_seconds(server.pid)
                    f = figures(kind, out)
                    if cpu0 is not None and cpu1 is not None and f.requests:
                        f.server_cpu_ms = (cpu1 - cpu0) / f.requests * 1000
                    results.append(f)
                    if out["errors"]:
                        failures.append(f"{kind}: {len(out['errors'])} failed request(s), e.g. {out['errors'][0]}")
                    if f.statuses != {200: args.requests}:
                        failures.append(f"{kind}: statuses {f.statuses}, wanted {args.requests} × 200")
                    failures += check_last(base, key, out["last"], kind)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            count, lines = common.problems_in_log(os.path.join(logdir, "serve.log"))
            if count:
                failures.append(f"server log has {count} error/warning line(s), e.g. {lines[0]}")
    return results, failures


def check_last(base: str, key: str, last: dict[str, str], kind: str) -> list[str]:
    """Each subscription's current quantity is the last one its thread set."""
    bad = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for sub_id, q in last.items():
            items = client.get(f"/api/v1/subscriptions/{sub_id}/items").json()["items"]
            current = next(i for i in items if i["key"] == ITEM)["current"]["quantity"]
            if Decimal(current) != Decimal(q):
                bad.append(f"{kind}: subscription {sub_id} has {ITEM} {current}, its last request set {q}")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql, or both comma-separated")
    parser.add_argument("--requests", type=int, default=5000, help="requests per endpoint (default 5000)")
    parser.add_argument("--threads", type=int, default=8, help="client threads, one subscription each (default 8)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per endpoint (default 200)")
    args = parser.parse_args()
    rows = []
    failed = False
    print(f"measuring {common.code_version()}", file=sys.stderr)
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        print(f"== {db}: {args.requests} requests per endpoint, {args.threads} client threads", file=sys.stderr)
        load0 = os.getloadavg()[0]
        results, failures = run(db, args)
        load = (load0 + os.getloadavg()[0]) / 2
        for f in failures:
            print(f"   FAILED {f}", file=sys.stderr)
        failed = failed or bool(failures)
        by = {f.kind: f for f in results}
        for f in results:
            ratio = f"{by['engine'].rps / f.rps:.2f}" if f.kind == "floor" and "engine" in by and f.rps else ""
            rows.append(
                [
                    db,
                    "Set Item Quantity" if f.kind == "engine" else "floor (one UPDATE)",
                    f.requests,
                    f"{f.rps:.0f}",
                    f"{f.p50:.1f}",
                    f"{f.p99:.1f}",
                    f"{f.mean:.1f}",
                    f"{f.server_cpu_ms:.2f}" if f.server_cpu_ms is not None else "",
                    ratio,
                    f"{load:.1f}",
                ]
            )
    print(
        common.table(
            [
                "db",
                "endpoint",
                "requests",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "mean ms",
                "server CPU ms/request",
                "engine/floor",
                "load",
            ],
            rows,
        )
    )
    print(f"\n{common.provenance()}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
