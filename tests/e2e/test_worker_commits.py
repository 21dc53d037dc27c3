"""A worker commits one chunk on a second thread while it works out the next (PostgreSQL).

The chunk's rows are written at its commit; meanwhile the next chunk is read and computed on another
connection. Numbers stay gap-free and in commit order, a commit that fails has its rows done again
one by one, and an open chunk that the commit in flight could be waiting on gives way.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text

from billhook.store.schema import invoices
from billhook.worker import loop
from billhook.worker.loop import Worker
from tests.e2e.support import FLEET_SECOND_END, check_fleet, fleet, jump_clock

N = 12


def commit_threads(engine: Any) -> list[str]:
    """The name of the thread each commit on ``engine`` ran on, as they happen."""
    names: list[str] = []
    event.listen(engine, "commit", lambda _conn: names.append(threading.current_thread().name))
    return names


def period_numbers(f: Any) -> list[str]:
    """The numbers of the period invoices issued (those of the opening invoices left out)."""
    with f.runtime.uows(readonly=True) as uow:
        rows = uow.conn.execute(
            select(invoices.c.number).where(invoices.c.kind == "period", invoices.c.status != "gathering")
        )
        return sorted(rows.scalars())


def all_numbers(f: Any) -> list[str]:
    with f.runtime.uows(readonly=True) as uow:
        return sorted(uow.conn.execute(select(invoices.c.number).where(invoices.c.status != "gathering")).scalars())


def test_chunks_are_committed_beside_the_next_and_numbered_in_order(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    f = fleet(db_url, N)
    worker = Worker(f.runtime.uows, batch_size=N, chunk_size=4)
    threads = commit_threads(f.runtime.engine)
    try:
        assert worker.bill_once() == N  # three chunks of four
        check_fleet(f)  # every period invoiced once and paid; numbers gap-free
        assert len(set(period_numbers(f))) == N
    finally:
        worker.close()
        f.runtime.close()
    on_committer = [t for t in threads if t.startswith("billhook-commit")]
    if db_url.startswith("postgresql"):
        assert len(on_committer) == 3, threads  # each chunk's commit, beside the next chunk's work
    else:
        assert on_committer == [], threads  # SQLite has one writer: nothing to overlap
    assert "one_by_one" not in capsys.readouterr().out


def test_a_chunk_whose_commit_fails_in_flight_is_done_again_row_by_row(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    f = fleet(pg_url, N)
    worker = Worker(f.runtime.uows, batch_size=N, chunk_size=4)
    try:
        assert worker.bill_once() == N  # opened and first periods closed
        with f.runtime.engine.begin() as conn:  # then the first write of events fails, once
            conn.execute(text("CREATE SEQUENCE fail_once"))
            conn.execute(
                text(
                    "CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF nextval('fail_once') = 1 THEN RAISE EXCEPTION 'injected failure'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            conn.execute(
                text("CREATE TRIGGER fail_once BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION fail_once()")
            )
        jump_clock(f.runtime, FLEET_SECOND_END + timedelta(hours=12))
        rolled_back_on: list[str] = []  # a rollback on the committer thread is a commit that failed there
        event.listen(f.runtime.engine, "rollback", lambda _c: rolled_back_on.append(threading.current_thread().name))
        assert worker.bill_once() == N  # the second periods (the failed chunk's redone one by one)
        periods, numbers = period_numbers(f), all_numbers(f)
    finally:
        worker.close()
        f.runtime.close()
    assert [t for t in rolled_back_on if t.startswith("billhook-commit")]  # it failed in flight
    assert len(periods) == 2 * N  # nothing lost or doubled
    assert numbers == [f"INV-{i:06d}" for i in range(1, 3 * N + 1)]  # with the opening invoices: gap-free
    out = capsys.readouterr().out
    assert "worker.chunk_retried_one_by_one" in out and "injected failure" in out


def test_an_open_chunk_gives_way_when_the_commit_in_flight_is_held_up(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The commit in flight waits on a lock (here one that another connection holds on the number
    sequence; it could be one the open chunk holds): past COMMIT_WAIT_SECONDS the open chunk is
    rolled back, and done again once the commit has landed."""
    f = fleet(pg_url, 8)
    worker = Worker(f.runtime.uows, batch_size=8, chunk_size=4)
    try:
        assert worker.bill_once() == 8  # opened and first periods closed: the sequence exists now
        jump_clock(f.runtime, FLEET_SECOND_END + timedelta(hours=12))
        monkeypatch.setattr(loop, "COMMIT_WAIT_SECONDS", 0.3)
        blocker = f.runtime.engine.connect()
        tx = blocker.begin()
        blocker.execute(text("SELECT 1 FROM number_sequences FOR UPDATE"))  # numbers are taken at the commit
        release = threading.Timer(1.5, tx.commit)
        release.start()
        try:
            assert worker.bill_once() == 8  # the second periods
        finally:
            release.join()
            blocker.close()
        periods, numbers = period_numbers(f), all_numbers(f)
    finally:
        worker.close()
        f.runtime.close()
    assert len(periods) == 16  # two periods closed for each of the eight, once each
    assert numbers == [f"INV-{i:06d}" for i in range(1, 25)]  # with the 8 opening invoices: gap-free
    out = capsys.readouterr().out
    assert "worker.chunk_gave_way" in out
    assert "one_by_one" not in out
