"""Claim due subscriptions, invoices and webhook deliveries with leases, and process them.

A claim is a lease (owner, expiry in wall-clock time). Work held by a worker that died is taken
over once its lease expires; processing re-reads every row under the customer's lock, so a
period is closed exactly once however many workers race for it.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import Table, func, or_, select, update

from billhook.events import transport
from billhook.ids import new_id
from billhook.services import billing, invoices, numbering, schedule, test_clock, webhooks
from billhook.services.common import Actor
from billhook.store.clock import latest_now, namespace_now, wall_now
from billhook.store.schema import invoices as invoices_t
from billhook.store.schema import subscriptions, webhook_deliveries
from billhook.store.sql import among
from billhook.store.uow import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger("billhook.worker")

Claimed = list[tuple[str, str]]  # (row id, namespace) pairs the worker holds the lease of

PERIODS_CLOSED = Counter("billhook_periods_closed_total", "Subscription periods closed by the worker")
INVOICES_ADVANCED = Counter("billhook_invoices_advanced_total", "Invoices the worker advanced on schedule")
DELIVERIES = Counter("billhook_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
BATCH_SECONDS = Histogram("billhook_worker_batch_seconds", "Time to process one claimed batch")


COMMIT_WAIT_SECONDS = 10.0  # how long an open chunk waits for the commit in flight before giving way


@dataclass
class _Flight:
    """A chunk's commit running on the committer thread."""

    chunk: Claimed
    rows: int
    future: Future[None]

    def committed(self, timeout: float) -> bool:
        """True once it has committed; False if it failed, or is still running after ``timeout``."""
        return not wait([self.future], timeout).not_done and self.future.exception() is None


def _commit(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    finally:
        uow.close()


class Worker:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        *,
        name: str | None = None,
        batch_size: int = 100,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 0.5,
        allow_private_webhooks: bool = False,
        senders: int = 16,
        chunk_size: int = 50,
    ) -> None:
        self.uows = uows
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.lease = lease
        self.poll_interval = poll_interval
        self.sender = transport.Sender(senders, allow_private=allow_private_webhooks)
        self.committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billhook-commit")
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billhook-record")
        self._recording: Future[None] | None = None
        # Test clock: each namespace's rows are due at its own clock's time, processed in units of work
        # of that namespace, and the clocks are walked forward (``step_walks``).
        self.test_clock = uows.clock.is_test
        self._wakes = (threading.Event(), threading.Event())  # the loops of ``run``: billing, deliveries

    # ----------------------------------------------------------------------------- claiming

    def _claim(
        self, table: Table, due_column: Any, limit: int | None = None, lease: timedelta | None = None
    ) -> list[tuple[str, str]]:
        with self.uows.write() as uow:
            wall = wall_now()
            due = (
                select(table.c.id)
                .where(
                    *self._due(uow, table, due_column),
                    or_(table.c.lease_until.is_(None), table.c.lease_until < wall),
                )
                .order_by(due_column)
                .limit(limit or self.batch_size)
                .with_for_update(skip_locked=True)
            )
            ids = list(uow.conn.execute(due).scalars())
            if not ids:
                return []
            rows = uow.conn.execute(
                update(table)
                .where(among(uow.conn, table.c.id, ids))
                .values(lease_owner=self.name, lease_until=wall + (lease or self.lease))
                .returning(table.c.id, table.c.namespace)
            ).all()
            return [(r.id, r.namespace) for r in rows]

    def _due(self, uow: UnitOfWork, table: Table, due_column: Any) -> tuple[Any, ...]:
        """The conditions for a row to be due: at or before the clock's time; with the test clock, its
        own namespace's clock's (and before the latest of them, which the column's index can use)."""
        if self.test_clock:
            return (due_column <= latest_now(), due_column <= namespace_now(table.c.namespace))
        return (due_column <= uow.now,)

    def _namespace(self, chunk: Claimed) -> str | None:
        """Whose clock a chunk's unit of work reads (with the test clock, a chunk has one namespace)."""
        return chunk[0][1] if self.test_clock and chunk else None

    def claim_subscriptions(self) -> list[tuple[str, str]]:
        return self._claim(subscriptions, subscriptions.c.next_billing_at)

    def claim_invoices(self) -> list[tuple[str, str]]:
        return self._claim(invoices_t, invoices_t.c.next_action_at)

    # ----------------------------------------------------------------------------- processing

    def _actor(self, namespace: str) -> Actor:
        return Actor(namespace, f"worker:{self.name}")

    def process_subscription(self, sub_id: str, namespace: str) -> int:
        """One subscription in its own transaction (the way back when its chunk failed)."""
        return self._in_one_transaction(self._close_subscriptions, [(sub_id, namespace)])

    def process_invoice(self, invoice_id: str, namespace: str) -> int:
        """One invoice in its own transaction (the way back when its chunk failed)."""
        return self._in_one_transaction(self._advance_invoices, [(invoice_id, namespace)])

    def process_chunked(self, claimed: Claimed, fn: Callable[[UnitOfWork, Claimed], int]) -> int:
        """Work through a claimed batch in chunks, one transaction each, so that the statements a chunk
        shares (its locks, the lookups every row of it makes) are paid once. A chunk that fails is
        rolled back whole and its rows are done again one per transaction, so that one bad row only
        holds itself back (it keeps its lease, and is tried again when the lease runs out).

        On PostgreSQL a chunk written behind (its rows buffered for the commit) is committed on a
        second thread while the next chunk is read and worked out on another connection: the database
        writes one chunk while this process computes the next, as two workers would. One commit at a
        time is in flight, each begun after the one before it ended (numbers stay in order). Should
        the commit in flight wait on a lock the open chunk holds, a wait the database cannot see, the
        open chunk gives way after ``COMMIT_WAIT_SECONDS``: it is rolled back and done again once that
        commit has landed (so it is when the commit in flight failed, before its rows are redone)."""
        done = 0
        flight: _Flight | None = None
        groups = [claimed]
        if self.test_clock:  # one namespace a chunk: its unit of work is at that namespace's time
            by_namespace: dict[str, Claimed] = {}
            for row in claimed:
                by_namespace.setdefault(row[1], []).append(row)
            groups = list(by_namespace.values())
        size = self.chunk_size
        chunks = deque(group[i : i + size] for group in groups for i in range(0, len(group), size))
        while chunks:
            chunk = chunks.popleft()
            try:
                uow, n = self._open(fn, chunk)
            except Exception as exc:
                done += self._land(flight, fn)
                flight = None
                self._one_by_one(fn, chunk, exc)
                continue
            gave_way = flight is not None and not flight.committed(COMMIT_WAIT_SECONDS)
            if gave_way:
                # Rolled back: the commit in flight may be waiting on its locks, or it failed and its
                # rows, done again one by one, could wait on them too. Done again once it has landed.
                uow.close()
                chunks.appendleft(chunk)
                if flight is not None and not flight.future.done():
                    log.warning("worker.chunk_gave_way", rows=len(chunk), worker=self.name)
            done += self._land(flight, fn)
            flight = None
            if gave_way:
                continue
            if uow.write_behind and not uow.sqlite:
                flight = _Flight(chunk, n, self.committer.submit(_commit, uow))
            else:
                done += self._settle(fn, chunk, n, functools.partial(_commit, uow))
        return done + self._land(flight, fn)

    def _open(self, fn: Callable[[UnitOfWork, Claimed], int], chunk: Claimed) -> tuple[UnitOfWork, int]:
        """``fn`` run on the chunk in a transaction left open (rolled back and closed if it fails)."""
        uow = self.uows.begin(self._namespace(chunk))
        try:
            return uow, fn(uow, chunk)
        except BaseException:
            uow.close()
            raise

    def _land(self, flight: _Flight | None, fn: Callable[[UnitOfWork, Claimed], int]) -> int:
        """Wait for the commit in flight, if any."""
        return 0 if flight is None else self._settle(fn, flight.chunk, flight.rows, flight.future.result)

    def _settle(
        self, fn: Callable[[UnitOfWork, Claimed], int], chunk: Claimed, rows: int, commit: Callable[[], Any]
    ) -> int:
        """``rows`` once ``commit`` has returned; if it fails, the chunk's rows are done one by one."""
        try:
            commit()
            return rows
        except Exception as exc:
            self._one_by_one(fn, chunk, exc)
            return 0

    def _one_by_one(self, fn: Callable[[UnitOfWork, Claimed], int], chunk: Claimed, exc: Exception) -> None:
        log.info("worker.chunk_retried_one_by_one", rows=len(chunk), reason=repr(exc), worker=self.name)
        for row in chunk:
            self._safely(lambda row_id, ns: self._in_one_transaction(fn, [(row_id, ns)]), *row)

    def _in_one_transaction(self, fn: Callable[[UnitOfWork, Claimed], int], chunk: Claimed) -> int:
        with self.uows.write(self._namespace(chunk)) as uow:
            return fn(uow, chunk)

    def _close_subscriptions(self, uow: UnitOfWork, chunk: Claimed) -> int:
        ids = [sub_id for sub_id, _ in chunk]
        owned = uow.conn.execute(
            select(subscriptions.c.customer_id).where(
                among(uow.conn, subscriptions.c.id, ids), subscriptions.c.lease_owner == self.name
            )
        ).scalars()  # a row whose lease ran out and that another worker took over is left alone
        uow.lock_customers(set(owned))
        rows = uow.conn.execute(
            select(subscriptions)
            .where(among(uow.conn, subscriptions.c.id, ids), subscriptions.c.lease_owner == self.name)
            .order_by(subscriptions.c.id)
        ).all()  # read again under the locks
        billing.prefetch(uow, rows)
        if len(rows) > 1:  # numbers and writes at the commit (a failed chunk is redone one row at a time, without)
            numbering.defer(uow)
            uow.write_behind = True
        closed = sum(billing.process_due(uow, self._actor(sub.namespace), sub) for sub in rows)
        PERIODS_CLOSED.inc(closed)
        return closed

    def _advance_invoices(self, uow: UnitOfWork, chunk: Claimed) -> int:
        ids = [invoice_id for invoice_id, _ in chunk]
        owned = uow.conn.execute(
            select(invoices_t.c.customer_id).where(
                among(uow.conn, invoices_t.c.id, ids), invoices_t.c.lease_owner == self.name
            )
        ).scalars()
        uow.lock_customers(set(owned))
        rows = uow.conn.execute(
            select(invoices_t)
            .where(among(uow.conn, invoices_t.c.id, ids), invoices_t.c.lease_owner == self.name)
            .order_by(invoices_t.c.id)
        ).all()
        for claimed in rows:
            inv = schedule.run_due(uow, self._actor(claimed.namespace), claimed)
            if inv.id != claimed.id:  # pending lines split off to a new invoice: the claimed one stays
                inv = invoices.load(uow, claimed.id)
            values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
            if inv.next_action_at is not None and inv.next_action_at <= uow.now:
                values["next_action_at"] = None  # nothing more it can do by itself: don't spin on it
            uow.conn.execute(update(invoices_t).where(invoices_t.c.id == inv.id).values(values))
        INVOICES_ADVANCED.inc(len(rows))
        return len(rows)

    def claim_deliveries(self) -> Claimed:
        """Four rounds of the requests in flight at once; the lease outlasts four rounds of endpoints
        that all time out."""
        rounds = 4
        lease = max(self.lease, rounds * timedelta(seconds=transport.TIMEOUT_SECONDS) + timedelta(seconds=30))
        limit = self.sender.concurrency * rounds
        return self._claim(webhook_deliveries, webhook_deliveries.c.next_attempt_at, limit, lease)

    def process_deliveries(self, claimed: Claimed) -> None:
        """Send claimed deliveries, then record how it went."""
        self.record_outcomes(self.send_deliveries(claimed), dict(claimed))

    def send_deliveries(self, claimed: Claimed) -> list[tuple[str, transport.Outcome]]:
        """Read what to send, and send it outside any transaction, all at once."""
        with self.uows(readonly=True) as uow:
            requests = webhooks.prepare(uow, [d_id for d_id, _ in claimed], self.name)
        sent = iter(self.sender.send_all([(r.url, r.body, r.headers) for r in requests if r.url is not None]))
        gone = transport.Outcome(None, 0, None, webhooks.ENDPOINT_GONE, None)
        return [(r.delivery_id, gone if r.url is None else next(sent)) for r in requests]

    def record_outcomes(self, outcomes: list[tuple[str, transport.Outcome]], namespaces: dict[str, str]) -> None:
        """Record the outcomes and release the invoices they held: in one transaction, or, if that
        fails, one transaction each. With the test clock, one namespace a transaction (``namespaces``:
        each delivery's), at that namespace's time."""
        groups: dict[str | None, list[tuple[str, transport.Outcome]]] = {None: outcomes}
        if self.test_clock:
            groups = {}
            for delivery_id, outcome in outcomes:
                groups.setdefault(namespaces[delivery_id], []).append((delivery_id, outcome))
        for namespace, group in groups.items():
            self._record(namespace, group)
        for _, outcome in outcomes:
            DELIVERIES.labels("succeeded" if outcome.succeeded else "failed").inc()
        if self.test_clock:
            self._wakes[0].set()  # the deliveries may have been all that held a clock's step

    def _record(self, namespace: str | None, outcomes: list[tuple[str, transport.Outcome]]) -> None:
        try:
            with self.uows.write(namespace) as uow:
                webhooks.record_many(uow, self._actor, outcomes, owner=self.name)
        except Exception as exc:
            log.info("worker.outcomes_recorded_one_by_one", rows=len(outcomes), reason=repr(exc), worker=self.name)
            for delivery_id, outcome in outcomes:
                try:
                    with self.uows.write(namespace) as uow:
                        webhooks.record_many(uow, self._actor, [(delivery_id, outcome)], owner=self.name)
                except Exception:
                    log.exception("worker.delivery_record_failed", delivery=delivery_id, worker=self.name)

    def bill_once(self) -> int:
        """Claim and process one batch of due subscriptions and one of due invoices."""
        with BATCH_SECONDS.time():
            subs = self.claim_subscriptions()
            self.process_chunked(subs, self._close_subscriptions)
            invs = self.claim_invoices()
            self.process_chunked(invs, self._advance_invoices)
        return len(subs) + len(invs)

    def deliver_once(self) -> int:
        """Claim and send one batch of due webhook deliveries."""
        deliveries = self.claim_deliveries()
        if deliveries:
            self.process_deliveries(deliveries)
        return len(deliveries)

    def deliver_overlapped(self) -> int:
        """``deliver_once``, but a batch's outcomes are recorded (and the invoices they held released)
        on the recorder thread while the next batch is claimed and sent: the database records one
        batch while the endpoints answer the next. One recording at a time, in the batches' order.
        Nothing waits on the recorder while holding a transaction open (claiming and reading what to
        send are transactions of their own, ended before the wait), so no wait is hidden from the
        database."""
        deliveries = self.claim_deliveries()
        outcomes = self.send_deliveries(deliveries) if deliveries else []
        try:
            self.recorded()
        finally:  # these are recorded whatever became of the last ones
            if outcomes:
                self._recording = self.recorder.submit(self.record_outcomes, outcomes, dict(deliveries))
        return len(deliveries)

    def recorded(self) -> None:
        """Wait for the recording in flight, if any."""
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.result()

    def run_once(self) -> int:
        """Claim and process one batch of each kind of work; returns how many rows it handled."""
        return self.bill_once() + self.deliver_once()

    def _safely(self, fn: Any, row_id: str, namespace: str) -> None:
        try:
            fn(row_id, namespace)
        except Exception:
            # The row keeps its lease until expiry, then is tried again; log and go on with the batch.
            log.exception("worker.process_failed", row=row_id, worker=self.name)

    def pending(self, uow: UnitOfWork) -> int:
        """Rows due now, leased or not (with the test clock, each at its own namespace's time)."""
        counts = [
            select(func.count()).select_from(table).where(*self._due(uow, table, table.c[column])).scalar_subquery()
            for table, column in test_clock.DUE
        ]
        return sum(int(n) for n in uow.conn.execute(select(*counts)).one())

    # ----------------------------------------------------------------------------- the test clocks

    def step_walks(self) -> int:
        """Test clock: one step of each namespace's walk in progress (``services.test_clock.step``);
        how many clocks moved or reached their target."""
        if not self.test_clock:
            return 0
        with self.uows(readonly=True) as uow:
            namespaces = test_clock.walking(uow)
        moved = 0
        for namespace in namespaces:
            with self.uows.write(namespace) as uow:
                moved += test_clock.step(uow).outcome in ("moved", "reached")
        if moved:
            for wake in self._wakes:
                wake.set()
        return moved

    def walk(
        self, namespace: str, timeout: float = 120.0, progress: Callable[[test_clock.Step], None] | None = None
    ) -> bool:
        """Walk the namespace's test clock to its target: process what is due (in every namespace, each at
        its own time), step, again, until the walk is over and nothing of the namespace is due. Other
        workers may process and step meanwhile. False once nothing moved for ``timeout`` seconds (work
        another worker holds and does not finish); a long walk that keeps moving never times out.
        ``progress`` is told every step. Holds nothing from one step to the next."""
        last = time.monotonic()
        while True:
            if self.run_once():
                last = time.monotonic()
                continue
            with self.uows.write(namespace) as uow:
                step = test_clock.step(uow)
            if progress is not None:
                progress(step)
            if step.outcome == "reached":
                return True
            if step.outcome == "moved":
                last = time.monotonic()
                continue
            if step.outcome == "idle":  # no walk (or another worker finished it): done once nothing is due
                with self.uows(readonly=True) as uow:
                    if test_clock.due(uow, namespace, step.now) == 0:
                        return True
            if time.monotonic() - last > timeout:
                return False
            time.sleep(0.05)

    def drain(self, timeout: float = 120.0) -> bool:
        """Process until nothing is due, including work other workers hold, and (test clock) until every
        walk in progress is over; False once nothing moved for ``timeout`` seconds."""
        last = time.monotonic()
        while True:
            if self.run_once() or self.step_walks():
                last = time.monotonic()
                continue
            with self.uows(readonly=True) as uow:
                if self.pending(uow) == 0 and not (self.test_clock and test_clock.walking(uow)):
                    return True
            if time.monotonic() - last > timeout:
                return False
            time.sleep(0.05)

    # ----------------------------------------------------------------------------- running

    def bill_or_step(self) -> int:
        """``bill_once``; when it found nothing (test clock), a step of each walk in progress."""
        return self.bill_once() or self.step_walks()

    def run(self, stop: threading.Event) -> None:
        """Bill and send webhooks in two loops (threads), until ``stop``: a slow endpoint never holds
        up the closing of periods, and sending overlaps billing's waits on the database. With the test
        clock, the billing loop also walks the clocks forward when it has nothing to do."""
        log.info("worker.started", worker=self.name, batch_size=self.batch_size)
        sender = threading.Thread(
            target=self._loop,
            args=(stop, self.deliver_overlapped, self._wakes[1]),
            name="billhook-deliveries",
            daemon=True,
        )
        sender.start()
        self._loop(stop, self.bill_or_step if self.test_clock else self.bill_once, self._wakes[0])
        sender.join()
        self.recorded()
        log.info("worker.stopped", worker=self.name)

    def _loop(self, stop: threading.Event, once: Callable[[], int], wake: threading.Event) -> None:
        while not stop.is_set():
            try:
                handled = once()
            except Exception:
                log.exception("worker.batch_failed", worker=self.name, loop=threading.current_thread().name)
                handled = 0
            if not handled:
                if self.test_clock:  # woken early when a clock has moved, or what held it was recorded
                    wake.wait(self.poll_interval)
                    wake.clear()
                else:
                    stop.wait(self.poll_interval)

    def close(self) -> None:
        self.committer.shutdown(wait=True)
        self.recorder.shutdown(wait=True)
        self.sender.close()
