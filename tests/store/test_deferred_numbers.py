"""A worker's chunk takes its invoices' numbers at its commit: the placeholders never leave the transaction.

The chunk's invoices are issued with a placeholder number, in their rows and in the events buffered
for them; the commit takes the real numbers (gap-free, in issue order) and puts them in both. If the
buffered events had to be written before that, the transaction refuses instead of writing a placeholder.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from billhook.ids import new_id
from billhook.services import numbering
from billhook.store.schema import events, invoices
from billhook.worker.loop import Worker
from tests.e2e.support import check_fleet, fleet

N = 12


def test_a_chunk_gets_its_numbers_at_commit_in_rows_and_events(db_url: str) -> None:
    f = fleet(db_url, N)
    worker = Worker(f.runtime.uows, batch_size=N, chunk_size=N)
    try:
        assert worker.drain(timeout=120)
        check_fleet(f)  # every period invoiced once and paid; numbers INV-000001 … gap-free
        with f.runtime.uows(readonly=True) as uow:
            numbers = {r.id: r.number for r in uow.conn.execute(select(invoices.c.id, invoices.c.number))}
            paid = uow.conn.execute(select(events.c.subject_id, events.c.data).where(events.c.type == "invoice.paid"))
            shown = {subject: data["number"] for subject, data in paid}
            everything = json.dumps([r.data for r in uow.conn.execute(select(events.c.data))])
    finally:
        worker.close()
        f.runtime.close()
    assert len(shown) == 2 * N
    assert all(shown[i] == numbers[i] and numbers[i].startswith("INV-") for i in shown), shown
    assert numbering.DEFERRED not in everything  # no placeholder in any event's payload


def test_events_written_before_the_numbers_are_taken_are_refused(db_url: str) -> None:
    f = fleet(db_url, 1)
    try:
        row = {"id": new_id(), "namespace": "default", "type": "invoice.updated", "subject_id": None}
        with pytest.raises(numbering.NumbersPending), f.runtime.uows.write() as uow:
            numbering.defer(uow)
            placeholder = numbering.next_number(uow, "default", "default")
            assert placeholder.startswith(numbering.DEFERRED)
            uow.append(events, [row | {"occurred_at": uow.now, "data": {"number": placeholder}}])
            uow.conn.execute(select(events.c.id)).all()  # reading the events would write them first
        with f.runtime.uows(readonly=True) as uow:  # the transaction rolled back: nothing was written
            assert uow.conn.execute(select(events.c.id).where(events.c.id == row["id"])).first() is None
    finally:
        f.runtime.close()
