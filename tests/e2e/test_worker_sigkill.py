"""A worker killed with SIGKILL in the middle of a batch: its leases expire, a second worker takes over.

The first worker claims a batch of 50 and is killed right after its first chunk of 5 commits, so
most of its batch is leased to a dead process. Once the 2 s leases run out the second worker
finishes the work: every period invoiced exactly once, none missing, all paid, numbers gap-free.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billhook.store.schema import subscriptions
from tests.e2e.support import (
    FLEET_START,
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

N = 300

pytestmark = pytest.mark.slow


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(db_url: str, tmp_path: Path) -> None:
    f = fleet(db_url, N)
    env = worker_env(
        db_url, BILLHOOK_WORKER_BATCH_SIZE="50", BILLHOOK_WORKER_CHUNK_SIZE="5", BILLHOOK_WORKER_LEASE_SECONDS="2"
    )
    procs: list[Proc] = []
    try:
        with running(procs):
            first = spawn(["worker"], env=env, cwd=tmp_path, label="first")
            procs.append(first)
            wait_for(lambda: closed_count(f.runtime) > 0, timeout=60, interval=0.005, what="a first close", procs=procs)
            first.popen.send_signal(signal.SIGKILL)
            assert first.popen.wait(timeout=20) == -signal.SIGKILL

            closed_at_kill = closed_count(f.runtime)
            assert 0 < closed_at_kill < N, f"the worker was not killed mid-work ({closed_at_kill} of {N} closed)"
            dead = worker_name(first)
            assert dead
            with f.runtime.uows(readonly=True) as uow:
                orphaned = uow.conn.execute(
                    select(func.count())
                    .select_from(subscriptions)
                    .where(subscriptions.c.lease_owner == dead, subscriptions.c.period_start == FLEET_START)
                ).scalar_one()
            assert orphaned > 0, "the dead worker held no lease on unfinished work"

            second = spawn(["worker"], env=env, cwd=tmp_path, label="second")
            procs.append(second)
            wait_for(
                lambda: closed_count(f.runtime) == N and pending_count(f.runtime) == 0,
                timeout=180,
                interval=0.5,
                what=f"all {N} periods to be closed",
                procs=[second],
            )
            assert stop(second) == 0, second.describe()
            assert failures(second) == []

        work = check_fleet(f)
        assert set(work) == {f"worker:{dead}", f"worker:{worker_name(second)}"}, work
    finally:
        f.runtime.close()
