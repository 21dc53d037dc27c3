"""CPU per invoice of a worker and of its database, this checkout against another commit, in pairs.

    .venv/bin/python bench/compare_cpu.py --against HEAD~1 [--db postgresql] [--n 2000] [--pairs 4]

On a shared machine, wall time moves by ±15 % from one minute to the next, more than most changes
do. This script measures CPU instead, and in pairs run back to back: ``--against`` (a frozen copy of
that commit's ``src/``, made with ``git archive``) then this checkout's ``src/``, ``--pairs`` times.
Each run is a child process that makes a fresh database, the billing day's set-up of N subscriptions
(``common.setup``), advances the clock, and drains it with one in-process ``Worker`` (batch and chunk
sizes billhook's defaults); it reports the worker process's CPU (user + system, all its threads)
per invoice and, on PostgreSQL, the CPU of the server's processes over the same span (the other
databases on the server should be idle). Prints every pair, then the means and how many pairs went
the same way. Checks nothing (``billing_day.py`` does): it compares cost, not results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # common


def _server_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL server process on this machine so far."""
    import common

    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()
    return sum(common.cpu_seconds(int(pid)) or 0.0 for pid in found)  # a backend gone meanwhile counts 0


def measure(db: str, n: int) -> None:
    """One run, in this process: prints a JSON line with its figures."""
    import common

    with common.fresh_database(db) as url:
        rt = common.start_runtime(url)
        common.setup(rt, n)
        worker = common.renewal_worker(rt)
        server0, cpu0, wall0 = _server_cpu_seconds(), time.process_time(), time.perf_counter()
        worker.drain(timeout=3600)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        server = _server_cpu_seconds() - server0 if db == "postgresql" else None
        worker.close()
        rt.close()
    per = 1000 / n
    print(json.dumps({"wall_ms": wall * per, "worker_ms": cpu * per, "server_ms": server and server * per}))


def _run(src: Path, db: str, n: int) -> dict[str, float]:
    env = os.environ | {"PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", "--db", db, "--n", str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="HEAD", help="the commit to compare this checkout with (default HEAD)")
    parser.add_argument("--db", default="postgresql", choices=("sqlite", "postgresql"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.db, args.n)
        return
    with tempfile.TemporaryDirectory(prefix="billhook-compare-") as frozen:
        archive = subprocess.run(["git", "archive", args.against, "src"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", frozen], input=archive.stdout, check=True)
        sides = {args.against: Path(frozen) / "src", "this checkout": ROOT / "src"}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
        print(f"{args.db}, N = {args.n:,}, ms per invoice: wall / worker CPU / server CPU")
        for i in range(args.pairs):
            line = []
            for name, src in sides.items():
                r = _run(src, args.db, args.n)
                runs[name].append(r)
                server = f"{r['server_ms']:.2f}" if r["server_ms"] is not None else "-"
                line.append(f"{name}: {r['wall_ms']:.2f} / {r['worker_ms']:.2f} / {server}")
            print(f"pair {i + 1}: " + "   ".join(line), flush=True)
    before, after = runs[args.against], runs["this checkout"]
    for key, label in (("wall_ms", "wall"), ("worker_ms", "worker CPU"), ("server_ms", "server CPU")):
        if before[0][key] is None:
            continue
        a, b = statistics.mean(r[key] for r in before), statistics.mean(r[key] for r in after)
        lower = sum(y[key] < x[key] for x, y in zip(before, after, strict=True))
        print(f"{label}: {a:.2f} -> {b:.2f} ms/invoice ({(b - a) / a:+.1%}), lower in {lower} of {len(before)} pairs")


if __name__ == "__main__":
    main()
