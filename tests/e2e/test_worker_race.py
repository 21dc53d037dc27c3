"""Four real `billhook worker` processes race for the same backlog on PostgreSQL.

The backlog is 500 subscriptions that all fell due at once (each must be opened and have its
first period closed). The workers are held back by a table lock until all four are waiting to
claim, so each of them really takes part; then nothing may be invoiced twice or skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.e2e.support import (
    Proc,
    check_fleet,
    closed_count,
    failures,
    fleet,
    pending_count,
    running,
    spawn,
    stop,
    wait_for,
    worker_env,
    worker_name,
)

N = 500
WORKERS = 4

pytestmark = pytest.mark.slow


def _claims_waiting(engine: Engine) -> int:
    """Connections of this database blocked in a claim (SELECT … FOR UPDATE SKIP LOCKED)."""
    sql = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE SKIP LOCKED%'"
    )
    with engine.connect() as conn:  # a new transaction each time: pg_stat_activity is cached per transaction
        return int(conn.execute(sql).scalar_one())


def test_four_workers_close_every_period_exactly_once(pg_url: str, tmp_path: Path) -> None:
    f = fleet(pg_url, N)
    env = worker_env(pg_url, BILLHOOK_WORKER_BATCH_SIZE="20")
    procs: list[Proc] = []
    try:
        with running(procs):
            gate = f.runtime.engine.connect()
            try:
                with gate.begin():
                    # claims (SELECT … FOR UPDATE) wait behind this until it commits; plain reads do not
                    gate.exec_driver_sql("LOCK TABLE subscriptions IN EXCLUSIVE MODE")
                    for i in range(WORKERS):
                        procs.append(spawn(["worker"], env=env, cwd=tmp_path, label=f"worker{i}"))
                    names = wait_for(
                        lambda: all(worker_name(p) for p in procs) and [worker_name(p) for p in procs],
                        timeout=60,
                        what="every worker to start",
                        procs=procs,
                    )
                    wait_for(
                        lambda: _claims_waiting(f.runtime.engine) == WORKERS,
                        timeout=30,
                        what="every worker to wait for its first claim",
                        procs=procs,
                    )
                    assert closed_count(f.runtime) == 0
            finally:
                gate.close()

            wait_for(
                lambda: closed_count(f.runtime) == N and pending_count(f.runtime) == 0,
                timeout=180,
                interval=0.5,
                what=f"all {N} periods to be closed",
                procs=procs,
            )
            codes = [stop(p) for p in procs]
            assert codes == [0] * WORKERS, "\n".join(p.describe() for p in procs)
            assert [failures(p) for p in procs] == [[]] * WORKERS

        work = check_fleet(f)
        assert set(work) == {f"worker:{name}" for name in names}, f"not every worker did work: {work}"
    finally:
        f.runtime.close()
