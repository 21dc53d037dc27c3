"""The unit of work: one database transaction, committed explicitly, rolled back by default."""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select

from billhook.store.buffer import WriteBuffer
from billhook.store.buffer import install as install_buffer
from billhook.store.clock import Clock
from billhook.store.db import READONLY, SQLITE_BUSY_SECONDS, is_sqlite
from billhook.store.schema import customers
from billhook.store.sql import among


class UnitOfWork:
    conn: Connection

    def __init__(self, engine: Engine, clock: Clock, *, readonly: bool = False, namespace: str | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.readonly = readonly
        self.namespace = namespace  # whose test clock ``now`` reads (the default namespace's if None)
        self.sqlite = is_sqlite(engine)
        self.memo: dict[object, object] = {}  # lookups worth doing once per transaction
        # Write-behind: inserts made through ``insert``, and the updates callers then leave to
        # ``buffer.update``, are sent together (see ``store.buffer``). A worker turns it on for a chunk.
        self.write_behind = False
        self._before_commit: list[Callable[[], None]] = []

    def __enter__(self) -> UnitOfWork:
        conn = self.engine.connect()
        if self.readonly:
            conn = conn.execution_options(**{READONLY: True})
        self.conn = conn
        self._writer = None if self.readonly or not self.sqlite else _sqlite_writer(self.engine)
        if self._writer is not None and not self._writer.acquire(timeout=SQLITE_BUSY_SECONDS):
            self._writer = None  # as SQLite's busy handler would: fail rather than wait for ever
            conn.close()
            raise TimeoutError(f"the SQLite database stayed locked for {SQLITE_BUSY_SECONDS} s")
        try:
            self._tx = conn.begin()
        except BaseException:
            self._release_writer()
            conn.close()
            raise
        self.buffer = WriteBuffer(conn)
        return self

    def _release_writer(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    @functools.cached_property
    def now(self) -> datetime:
        """The clock's time, read once, when the transaction first asks (many never do). With the test
        clock on, it is the time of the unit of work's namespace's clock."""
        return self.clock.now(self.conn, self.namespace)

    def append(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Rows for an append-only table (history, events, …): written later, together (``store.buffer``)."""
        self.buffer.add(table, rows)

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows: now, or in write-behind mode later, together."""
        if self.write_behind:
            self.buffer.add(table, rows)
        elif rows:
            self.conn.execute(insert(table), rows)

    def before_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the transaction, just before it commits (to write what was counted in memory)."""
        self._before_commit.append(fn)

    def commit(self) -> None:
        if self._tx.is_active:
            while self._before_commit:  # a hook may add another (it runs too)
                self._before_commit.pop(0)()
            self.buffer.flush()
            self._tx.commit()

    def close(self) -> None:
        """End it: rolled back unless committed, its connection returned to the pool."""
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.buffer.close()
            self.conn.close()
            self._release_writer()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def lock_customer(self, customer_id: str) -> None:
        """Serialize every change to one customer's invoices.

        SQLite already holds the database's write lock since BEGIN IMMEDIATE.
        """
        if not self.sqlite:
            self.conn.execute(_LOCK_CUSTOMER, {"customer_id": customer_id})

    def lock_customers(self, customer_ids: Collection[str]) -> None:
        """``lock_customer`` for many at once, in id order (two workers never wait on each other in a ring)."""
        if not self.sqlite and customer_ids:
            self.conn.execute(
                select(customers.c.id)
                .where(among(self.conn, customers.c.id, sorted(customer_ids)))
                .order_by(customers.c.id)
                .with_for_update()
            ).all()


# Built once: a busy API runs it in many of its transactions.
_LOCK_CUSTOMER = select(customers.c.id).where(customers.c.id == bindparam("customer_id")).with_for_update()

_writers: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _sqlite_writer(engine: Engine) -> threading.Lock:
    """SQLite has one writer at a time. Threads of this process queue for it here, and the next one
    goes the moment it is free, rather than each polling the database lock in SQLite's busy handler
    (which sleeps up to 100 ms between tries). Other processes still wait in the busy handler."""
    with _writers_lock:
        lock = _writers.get(engine)
        if lock is None:
            lock = _writers[engine] = threading.Lock()
        return lock


class UnitOfWorkFactory:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        install_buffer(engine)

    def __call__(self, *, readonly: bool = False, namespace: str | None = None) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, readonly=readonly, namespace=namespace)

    def begin(self, namespace: str | None = None) -> UnitOfWork:
        """A write unit of work left open: its caller commits it, or not, and closes it."""
        return self(namespace=namespace).__enter__()

    @contextmanager
    def write(self, namespace: str | None = None) -> Iterator[UnitOfWork]:
        with self(namespace=namespace) as uow:
            yield uow
            uow.commit()
