"""Where a worker's time goes when it closes N periods: statements per invoice, then a pyinstrument tree.

    .venv/bin/python bench/profile_worker.py --db postgresql --n 500 [--billable]

Runs the billing day's set-up (``common.setup``) and one in-process ``Worker`` draining it, once
counting the statements it sends (grouped by their first words and table) and once under
pyinstrument (a fresh database each time). Prints both; checks nothing (``billing_day.py`` does).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import Counter
from typing import Any

import common
from pyinstrument import Profiler
from sqlalchemy import event

from billhook.config import Settings


def _key(statement: str) -> str:
    words = statement.split()
    if words[0] == "SELECT":
        table = re.search(r"\bFROM (\w+)", statement)
        return f"SELECT {table.group(1) if table else '?'}"
    return " ".join(words[:3]) if words[0] in ("INSERT", "DELETE") else " ".join(words[:2])


def run(kind: str, n: int, chunk: int, profile: bool, billable: bool) -> None:
    with common.fresh_database(kind) as url, tempfile.TemporaryDirectory() as logdir:
        listener, billable_url = (None, None)
        if billable:
            listener, billable_url, _ = common.start_listener(logdir)
        rt = common.start_runtime(url)
        common.setup(rt, n, billable_url=billable_url)
        counts: Counter[str] = Counter()

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            counts[_key(statement)] += 1

        worker = common.renewal_worker(rt, chunk)
        profiler = Profiler(interval=0.0005) if profile else None
        if not profile:
            event.listen(rt.engine, "before_cursor_execute", count)
        start = time.perf_counter()
        if profiler:
            profiler.start()
        worker.drain(timeout=3600)
        if profiler:
            profiler.stop()
        elapsed = time.perf_counter() - start
        worker.close()
        rt.close()
        if listener is not None:
            listener.terminate()
            listener.wait()
    label = ("under pyinstrument" if profile else "counting statements") + (", billable" if billable else "")
    print(f"{kind}, N = {n:,}, chunk {chunk} ({label}): {elapsed:.2f} s, {elapsed / n * 1000:.2f} ms/invoice")
    if profiler:
        print(profiler.output_text(unicode=False, color=False))
    else:
        print(f"statements per invoice: {sum(counts.values()) / n:.2f}")
        for key, c in counts.most_common(25):
            print(f"  {c / n:8.3f}  {key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="postgresql", choices=("sqlite", "postgresql"))
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument(
        "--chunk", type=int, default=Settings.worker_chunk_size, help="BILLHOOK_WORKER_CHUNK_SIZE (default: billhook's)"
    )
    parser.add_argument("--billable", action="store_true", help="a subscription.billable listener, grace PT0S")
    args = parser.parse_args()
    run(args.db, args.n, args.chunk, profile=False, billable=args.billable)
    run(args.db, args.n, args.chunk, profile=True, billable=args.billable)


if __name__ == "__main__":
    main()
