"""Claim due subscriptions and invoices with leases; process each in its own transaction.

A claim is a lease (owner, expiry in wall-clock time). Work held by a worker that died is taken
over once its lease expires; processing re-reads every row under the customer's lock, so a
period is closed exactly once however many workers race for it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import Table, func, or_, select, update

from billhook.events import transport
from billhook.ids import new_id
from billhook.services import billing, invoices, schedule, webhooks
from billhook.services.common import Actor
from billhook.store.clock import wall_now
from billhook.store.schema import invoices as invoices_t
from billhook.store.schema import subscriptions, webhook_deliveries
from billhook.store.uow import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger("billhook.worker")

PERIODS_CLOSED = Counter("billhook_periods_closed_total", "Subscription periods closed by the worker")
INVOICES_ADVANCED = Counter("billhook_invoices_advanced_total", "Invoices the worker advanced on schedule")
DELIVERIES = Counter("billhook_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
BATCH_SECONDS = Histogram("billhook_worker_batch_seconds", "Time to process one claimed batch")


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
        senders: int = 8,
    ) -> None:
        self.uows = uows
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
        self.batch_size = batch_size
        self.lease = lease
        self.poll_interval = poll_interval
        self.allow_private_webhooks = allow_private_webhooks
        self.http = httpx.Client(follow_redirects=False, headers={"user-agent": "billhook-webhooks"})
        self.senders_count = senders
        self.senders = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="billhook-webhook")

    # ----------------------------------------------------------------------------- claiming

    def _claim(self, table: Table, due_column: Any, limit: int | None = None) -> list[tuple[str, str]]:
        with self.uows.write() as uow:
            wall = wall_now()
            due = (
                select(table.c.id)
                .where(
                    due_column <= uow.now,
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
                .where(table.c.id.in_(ids))
                .values(lease_owner=self.name, lease_until=wall + self.lease)
                .returning(table.c.id, table.c.namespace)
            ).all()
            return [(r.id, r.namespace) for r in rows]

    def claim_subscriptions(self) -> list[tuple[str, str]]:
        return self._claim(subscriptions, subscriptions.c.next_billing_at)

    def claim_invoices(self) -> list[tuple[str, str]]:
        return self._claim(invoices_t, invoices_t.c.next_action_at)

    # ----------------------------------------------------------------------------- processing

    def _actor(self, namespace: str) -> Actor:
        return Actor(namespace, f"worker:{self.name}")

    def process_subscription(self, sub_id: str, namespace: str) -> int:
        with self.uows.write() as uow:
            sub = uow.conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id)).one()
            if sub.lease_owner != self.name:
                return 0  # the lease ran out and another worker took it over
            uow.lock_customer(sub.customer_id)
            sub = uow.conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id)).one()
            closed = billing.process_due(uow, self._actor(namespace), sub)
            uow.commit()
        PERIODS_CLOSED.inc(closed)
        return closed

    def process_invoice(self, invoice_id: str, namespace: str) -> None:
        with self.uows.write() as uow:
            inv = invoices.load(uow, invoice_id)
            if inv.lease_owner != self.name:
                return
            uow.lock_customer(inv.customer_id)
            schedule.run_due(uow, self._actor(namespace), invoices.load(uow, invoice_id))
            inv = invoices.load(uow, invoice_id)
            values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
            if inv.next_action_at is not None and inv.next_action_at <= uow.now:
                values["next_action_at"] = None  # nothing more it can do by itself: don't spin on it
            uow.conn.execute(update(invoices_t).where(invoices_t.c.id == invoice_id).values(values))
            uow.commit()
        INVOICES_ADVANCED.inc()

    def claim_deliveries(self) -> list[tuple[str, str]]:
        # small enough that a batch of slow endpoints (15 s each) is sent well within the lease
        return self._claim(webhook_deliveries, webhook_deliveries.c.next_attempt_at, self.senders_count * 2)

    def process_deliveries(self, claimed: list[tuple[str, str]]) -> None:
        """Read what to send, send it outside any transaction (concurrently), then record each outcome."""
        with self.uows(readonly=True) as uow:
            requests = [r for r in (webhooks.prepare(uow, d_id, self.name) for d_id, _ in claimed) if r is not None]

        def send(request: webhooks.Request) -> transport.Outcome:
            if request.url is None:
                return transport.Outcome(None, 0, None, webhooks.ENDPOINT_GONE, None)
            return transport.send(
                self.http, request.url, request.body, request.headers, allow_private=self.allow_private_webhooks
            )

        outcomes = list(self.senders.map(send, requests))
        for request, outcome in zip(requests, outcomes, strict=True):
            try:
                with self.uows.write() as uow:
                    webhooks.record(uow, self._actor(request.namespace), request.delivery_id, outcome, owner=self.name)
            except Exception:
                log.exception("worker.delivery_record_failed", delivery=request.delivery_id, worker=self.name)
            DELIVERIES.labels("succeeded" if outcome.succeeded else "failed").inc()

    def run_once(self) -> int:
        """Claim and process one batch of each kind of work; returns how many rows it handled."""
        handled = 0
        with BATCH_SECONDS.time():
            for sub_id, ns in self.claim_subscriptions():
                self._safely(self.process_subscription, sub_id, ns)
                handled += 1
            for inv_id, ns in self.claim_invoices():
                self._safely(self.process_invoice, inv_id, ns)
                handled += 1
            deliveries = self.claim_deliveries()
            if deliveries:
                self.process_deliveries(deliveries)
                handled += len(deliveries)
        return handled

    def _safely(self, fn: Any, row_id: str, namespace: str) -> None:
        try:
            fn(row_id, namespace)
        except Exception:
            # The row keeps its lease until expiry, then is tried again; log and go on with the batch.
            log.exception("worker.process_failed", row=row_id, worker=self.name)

    def pending(self, uow: UnitOfWork) -> int:
        """Rows due now, leased or not."""
        subs = uow.conn.execute(
            select(func.count()).select_from(subscriptions).where(subscriptions.c.next_billing_at <= uow.now)
        ).scalar_one()
        invs = uow.conn.execute(
            select(func.count()).select_from(invoices_t).where(invoices_t.c.next_action_at <= uow.now)
        ).scalar_one()
        sends = uow.conn.execute(
            select(func.count()).select_from(webhook_deliveries).where(webhook_deliveries.c.next_attempt_at <= uow.now)
        ).scalar_one()
        return int(subs) + int(invs) + int(sends)

    def drain(self, timeout: float = 120.0) -> bool:
        """Process until nothing is due, including work other workers hold; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_once():
                continue
            with self.uows(readonly=True) as uow:
                if self.pending(uow) == 0:
                    return True
            time.sleep(0.05)
        return False

    def run(self, stop: threading.Event) -> None:
        log.info("worker.started", worker=self.name, batch_size=self.batch_size)
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:
                log.exception("worker.batch_failed", worker=self.name)
                handled = 0
            if not handled:
                stop.wait(self.poll_interval)
        log.info("worker.stopped", worker=self.name)

    def close(self) -> None:
        self.senders.shutdown(wait=True)
        self.http.close()
