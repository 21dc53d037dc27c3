"""A worker's chunk takes its invoices' numbers at its commit: the placeholders never leave the transaction.
(So does a batch of billable deliveries recorded together, for the invoices they release.)

The chunk's invoices are issued with a placeholder number, in their rows and in the events buffered
for them; the commit takes the real numbers (gap-free, in issue order) and puts them in both. If the
buffered events had to be written before that, the numbers are taken then: no placeholder is written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event, select

from billhook.events import transport
from billhook.events.catalog import BILLABLE
from billhook.ids import new_id
from billhook.services import numbering, profiles, webhooks
from billhook.services.common import Actor
from billhook.store import buffer, bulk
from billhook.store.bulk import insert_rows
from billhook.store.schema import events, invoices, webhook_deliveries
from billhook.worker.loop import Worker
from tests.e2e.support import FLEET_CLOCK_START, FLEET_START, check_fleet, fleet

N = 12


def test_a_chunk_gets_its_numbers_at_commit_in_rows_and_events(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
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
    assert "one_by_one" not in capsys.readouterr().out  # no chunk was refused and redone row by row


def test_events_written_before_the_commit_get_the_numbers_taken_then(db_url: str) -> None:
    f = fleet(db_url, 1)
    try:
        row = {"id": new_id(), "namespace": "default", "type": "invoice.updated", "subject_id": None}
        with f.runtime.uows.write() as uow:
            numbering.defer(uow)
            placeholder = numbering.next_number(uow, "default", "default")
            assert placeholder.startswith(numbering.DEFERRED)
            uow.append(events, [row | {"occurred_at": uow.now, "data": {"number": placeholder}}])
            # reading the events writes them first: the number is taken then, and the next one at once
            written = uow.conn.execute(select(events.c.data).where(events.c.id == row["id"])).scalar_one()
            assert written == {"number": "INV-000001"}
            assert numbering.next_number(uow, "default", "default") == "INV-000002"
        with f.runtime.uows.write() as uow:
            assert numbering.next_number(uow, "default", "default") == "INV-000003"  # none skipped
    finally:
        f.runtime.close()


def test_billable_deliveries_recorded_together_release_their_invoices_in_one_transaction(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The worker records a batch of sent deliveries in one transaction: the held invoices they release
    are issued there together, numbered at its commit, and no placeholder reaches an event."""
    f = fleet(db_url, N)
    actor = Actor("default", "test")
    worker = Worker(f.runtime.uows, batch_size=N, chunk_size=N)
    try:
        with f.runtime.uows.write() as uow:
            webhooks.create_endpoint(
                uow, actor, {"url": "http://127.0.0.1:9/hook", "eventTypes": [BILLABLE]}, allow_private=True
            )
            default = profiles.view(profiles.default_profile(uow, "default"))
            default["workflow"]["invoicing"]["billableGrace"] = "PT0S"
            profiles.replace(uow, actor, default["id"], default)
        assert worker.bill_once() == N  # every period closed, its invoice held for its billable delivery
        with f.runtime.uows(readonly=True) as uow:
            held = uow.conn.execute(
                select(invoices.c.extended_status).where(invoices.c.kind == "period", invoices.c.issued_at.is_(None))
            ).scalars()
            assert sorted(held) == ["draft.outstanding"] * N + ["gathering"] * N
            pending = uow.conn.execute(
                select(webhook_deliveries.c.id).where(webhook_deliveries.c.event_type == BILLABLE)
            ).scalars()
            sent = [(delivery_id, transport.Outcome(200, 3, "ok", None, None)) for delivery_id in pending]
        assert len(sent) == N
        with f.runtime.uows.write() as uow:  # fails, rather than falling back, should the batch refuse
            webhooks.record_many(uow, lambda ns: Actor(ns, "test-sender"), sent)
        check_fleet(f)  # every period invoiced once and paid; numbers gap-free
        with f.runtime.uows(readonly=True) as uow:
            numbers = {r.id: r.number for r in uow.conn.execute(select(invoices.c.id, invoices.c.number))}
            paid = uow.conn.execute(select(events.c.subject_id, events.c.data).where(events.c.type == "invoice.paid"))
            shown = {subject: data["number"] for subject, data in paid}
            everything = json.dumps([r.data for r in uow.conn.execute(select(events.c.data))])
            statuses = uow.conn.execute(select(webhook_deliveries.c.status)).scalars()
            assert set(statuses) == {"succeeded"}
    finally:
        worker.close()
        f.runtime.close()
    assert len(shown) == 2 * N
    assert all(shown[i] == numbers[i] and numbers[i].startswith("INV-") for i in shown), shown
    assert numbering.DEFERRED not in everything
    assert "one_by_one" not in capsys.readouterr().out  # the chunk was not refused and redone row by row


@pytest.mark.parametrize("opened", [True, False], ids=["renewing", "opening-too"])
def test_a_chunk_writes_what_needs_no_number_before_it_takes_the_numbers(
    db_url: str, monkeypatch: pytest.MonkeyPatch, opened: bool
) -> None:
    """The sequence stays locked from the moment the numbers are taken until the commit: only the
    invoices' updates, and the events that show a number, are sent in that time. Lines, history,
    the next gathering invoices and the events of the steps before the invoice was issued go first.

    Renewing: the subscriptions were opened already, and the chunk closes their periods, as on a
    billing day. Opening too: the chunk opens them (each opening invoice issued) and then closes their
    first periods, reading its own writes in between; the events showing a number stay buffered."""
    f = fleet(db_url, N, clock_start=FLEET_START if opened else FLEET_CLOCK_START)
    worker = Worker(f.runtime.uows, batch_size=N, chunk_size=N)
    sent: list[tuple[int, str]] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append((id(conn), " ".join(statement.split()[:3])))

    def copy(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:  # COPY goes past SQLAlchemy's events
        if conn.dialect.name == "postgresql" and len(rows) >= bulk.COPY_FROM:
            sent.append((id(conn), f'COPY "{table.name}"'))
        insert_rows(conn, table, rows)

    event.listen(f.runtime.engine, "before_cursor_execute", record)
    monkeypatch.setattr(buffer, "insert_rows", copy)
    try:
        assert worker.bill_once() == N  # one chunk: the whole batch
        check_fleet(f)
    finally:
        event.remove(f.runtime.engine, "before_cursor_execute", record)
        worker.close()
        f.runtime.close()

    def writes(table: str) -> list[int]:
        return [i for i, s in enumerate(statements) if s.startswith((f"INSERT INTO {table}", f'COPY "{table}"'))]

    [chunk] = {conn for conn, s in sent if "number_sequences" in s}  # the connection that took the numbers
    statements = [s for conn, s in sent if conn == chunk]
    lock = next(i for i, s in enumerate(statements) if "number_sequences" in s)
    assert writes("invoice_lines") and max(writes("invoice_lines")) < lock, statements
    assert writes("invoice_transitions") and max(writes("invoice_transitions")) < lock, statements
    assert writes("invoices") and max(writes("invoices")) < lock, statements  # the next gathering invoices
    before, after = [i for i in writes("events") if i < lock], [i for i in writes("events") if i > lock]
    assert before and after, statements  # the drafts' events first, the issued invoices' after the numbers
    updates = [i for i, s in enumerate(statements) if s.startswith("UPDATE invoices")]
    assert updates and max(updates) > lock, statements  # the numbers go into the invoices' rows after
    if opened:  # renewing, every update of an invoice waits for the commit (opening writes some at once)
        assert min(updates) > lock, statements
