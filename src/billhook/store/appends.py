"""Rows for the append-only tables (history, events, deliveries), written together.

Closing a period writes a history row, a few events and their deliveries for each invoice; buffered
in the unit of work, a chunk of invoices costs one INSERT per table instead of one per invoice. The
rows are written before the transaction commits, and before any statement of that transaction that
touches one of these tables (so whatever reads them in the same transaction sees them): the same
rows, in the same transaction, only sent later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, insert
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.util import find_tables

from billhook.store.schema import events, invoice_transitions, webhook_attempts, webhook_deliveries

# In the order they are written (a delivery refers to its event, an attempt to its delivery).
APPEND_ONLY: tuple[Table, ...] = (invoice_transitions, events, webhook_deliveries, webhook_attempts)
_NAMES = frozenset(t.name for t in APPEND_ONLY)
_KEY = "billhook_appends"


class Appends:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows: dict[Table, list[dict[str, Any]]] = {}
        self._flushing = False
        self._before_flush: list[Callable[[], None]] = []
        conn.info[_KEY] = self

    def before_flush(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` before buffered rows are written (it may refuse, by raising)."""
        self._before_flush.append(fn)

    def add(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if table not in APPEND_ONLY:
            raise ValueError(f"{table.name} is not an append-only table")
        if rows:
            self.rows.setdefault(table, []).extend(rows)

    def pending(self, table: Table) -> list[dict[str, Any]]:
        """The rows buffered for ``table`` (to be amended before they are written)."""
        return self.rows.get(table, [])

    def flush(self) -> None:
        if self._flushing:
            return
        if self.rows:
            for fn in self._before_flush:
                fn()
        self._flushing = True
        try:
            while self.rows:
                pending, self.rows = self.rows, {}
                for table in APPEND_ONLY:
                    if table in pending:
                        self.conn.execute(insert(table), pending[table])
        finally:
            self._flushing = False

    def close(self) -> None:
        self.rows = {}
        self.conn.info.pop(_KEY, None)


def _touches(statement: ClauseElement) -> bool:
    if isinstance(statement, UpdateBase):
        return getattr(statement.table, "name", None) in _NAMES
    tables = find_tables(statement, include_joins=True, include_selects=True, include_crud=True)
    return not tables or any(getattr(t, "name", None) in _NAMES for t in tables)  # no tables: text()


def install(engine: Engine) -> None:
    """Write the buffer before any statement that touches its tables (once per engine)."""
    if event.contains(engine, "before_execute", _before_execute):
        return
    event.listen(engine, "before_execute", _before_execute)


def _before_execute(conn: Connection, statement: Any, *_: Any) -> None:
    appends: Appends | None = conn.info.get(_KEY)
    if appends is not None and appends.rows and isinstance(statement, ClauseElement) and _touches(statement):
        appends.flush()
