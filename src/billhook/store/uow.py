"""The unit of work: one database transaction, committed explicitly, rolled back by default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import Connection, Engine, select

from billhook.store.clock import Clock
from billhook.store.db import READONLY, is_sqlite
from billhook.store.schema import customers


class UnitOfWork:
    conn: Connection
    now: datetime

    def __init__(self, engine: Engine, clock: Clock, *, readonly: bool = False) -> None:
        self.engine = engine
        self.clock = clock
        self.readonly = readonly
        self.sqlite = is_sqlite(engine)
        self.memo: dict[object, object] = {}  # lookups worth doing once per transaction

    def __enter__(self) -> UnitOfWork:
        conn = self.engine.connect()
        if self.readonly:
            conn = conn.execution_options(**{READONLY: True})
        self.conn = conn
        self._tx = conn.begin()
        try:
            self.now = self.clock.now(conn)
        except BaseException:
            self._tx.rollback()
            conn.close()
            raise
        return self

    def commit(self) -> None:
        if self._tx.is_active:
            self._tx.commit()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()

    def lock_customer(self, customer_id: str) -> None:
        """Serialize every change to one customer's invoices.

        SQLite already holds the database's write lock since BEGIN IMMEDIATE.
        """
        if not self.sqlite:
            self.conn.execute(select(customers.c.id).where(customers.c.id == customer_id).with_for_update())


class UnitOfWorkFactory:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, readonly=readonly)

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        with self() as uow:
            yield uow
            uow.commit()
