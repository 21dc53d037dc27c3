"""Writes a transaction sends later, together: one statement per table (and per kind of update)
instead of one per row.

- Rows to insert, one statement per table (COPY on PostgreSQL: see ``store.bulk``). History,
  events, deliveries and attempts always come this way: closing a period writes a history row and a
  few events for each invoice, so a chunk of invoices costs one statement per table instead of some
  per invoice. In *write-behind* mode (a worker's chunk: see ``UnitOfWork``) invoices, their lines
  and item quantities come this way too.
- In write-behind mode, updates made by one prepared statement with bound parameters (``_id`` names
  the row), sent as one executemany. An update guarded by the row's version checks, when it is sent,
  that every row matched, and raises ``Conflict`` otherwise.

Buffered writes are sent before the transaction commits, and before any statement of that
transaction that touches one of their tables (so whatever reads them in the same transaction sees
them): the same writes, in the same transaction, each row's in the order they were made, only sent
later. Inserts go first, parents before children; then the updates, which never change a row's
references and may change rows just inserted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, event
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import Update, UpdateBase
from sqlalchemy.sql.util import find_tables

from billhook.errors import Conflict
from billhook.store.bulk import insert_rows
from billhook.store.schema import metadata

_ORDER = metadata.sorted_tables  # a row's parents before it
_KEY = "billhook_buffer"
Held = Callable[[Table, dict[str, Any]], bool]  # picks the buffered rows to keep for now


@dataclass
class _Updates:
    guarded: bool
    params: list[dict[str, Any]] = field(default_factory=list)


class WriteBuffer:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows: dict[Table, list[dict[str, Any]]] = {}
        self.updates: dict[tuple[Update, frozenset[str]], _Updates] = {}
        self._updated: dict[tuple[str, Any], tuple[Update, frozenset[str]]] = {}  # (table, row id): its group
        self._flushing = False
        self._before_flush: list[Callable[[], None]] = []
        self._held_back: tuple[set[str], Callable[[], Held | None]] | None = None
        conn.info[_KEY] = self

    def before_flush(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` before buffered writes are sent (to amend them, or refuse by raising); what it
        sends itself goes before them."""
        self._before_flush.append(fn)

    def hold_back(self, tables: set[str], held: Callable[[], Held | None]) -> None:
        """When a statement that touches none of ``tables`` makes the buffer send itself, the rows that
        ``held()`` picks (if it picks any) stay buffered: they go with a later flush, at the latest
        at the commit."""
        self._held_back = (tables, held)

    def add(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.rows.setdefault(table, []).extend(rows)

    def update(self, statement: Update, params: dict[str, Any], *, guarded: bool = False) -> None:
        """``statement`` (``UPDATE … WHERE id = :_id``, values bound by name) with ``params``, later."""
        group = (statement, frozenset(params))
        row = (_name(statement), params["_id"])
        if self._updated.get(row, group) != group:
            self.flush()  # the row changes again in another shape: its first change goes first
        self._updated[row] = group
        self.updates.setdefault(group, _Updates(guarded)).params.append(params)

    def pending(self, table: Table) -> list[dict[str, Any]]:
        """The rows buffered for ``table`` (to be amended before they are written)."""
        return self.rows.get(table, [])

    def pending_updates(self, table: Table) -> list[dict[str, Any]]:
        """The parameters of the updates buffered for ``table`` (to be amended before they are sent)."""
        return [p for (stmt, _), group in self.updates.items() if stmt.table is table for p in group.params]

    def flush_for(self, touched: set[str] | None) -> None:
        """Send what a statement touching ``touched`` (None: any table) needs sent first: everything,
        but what ``hold_back`` keeps when the statement touches none of its tables."""
        if self._held_back is not None and touched is not None and not touched & self._held_back[0]:
            held = self._held_back[1]()
            if held is not None:
                self.flush_all_but(held, set())
                return
        self.flush()

    def flush_all_but(self, held: Held, held_updates: set[str]) -> None:
        """Send what is buffered except the rows ``held(table, row)`` picks and the updates of the
        tables named in ``held_updates``: those stay buffered, in their order, for the next flush."""
        kept: dict[Table, list[dict[str, Any]]] = {}
        for table in list(self.rows):
            rows = self.rows.pop(table)
            for row in rows:
                (kept if held(table, row) else self.rows).setdefault(table, []).append(row)
        kept_updates = {key: self.updates.pop(key) for key in list(self.updates) if _name(key[0]) in held_updates}
        kept_updated = {row: group for row, group in self._updated.items() if row[0] in held_updates}
        self.flush()
        for table, rows in kept.items():
            self.rows.setdefault(table, []).extend(rows)
        self.updates.update(kept_updates)
        self._updated.update(kept_updated)

    def tables(self) -> set[str]:
        return {t.name for t in self.rows} | {_name(stmt) for stmt, _ in self.updates}

    def flush(self) -> None:
        if self._flushing or not (self.rows or self.updates):
            return
        self._flushing = True  # what the hooks send goes before the buffer
        try:
            for fn in self._before_flush:
                fn()
            while self.rows or self.updates:
                rows, updates = self.rows, self.updates
                self.rows, self.updates, self._updated = {}, {}, {}
                for table in _ORDER:
                    if table in rows:
                        insert_rows(self.conn, table, rows[table])
                for (statement, _), group in updates.items():
                    result = self.conn.execute(statement, group.params)
                    if group.guarded and result.rowcount != len(group.params):
                        raise Conflict("a row changed meanwhile; try again", code="concurrent_update")
        finally:
            self._flushing = False

    def close(self) -> None:
        self.rows, self.updates, self._updated = {}, {}, {}
        self.conn.info.pop(_KEY, None)


def _name(statement: UpdateBase) -> str:
    return str(getattr(statement.table, "name", ""))


def _touched(statement: ClauseElement) -> set[str] | None:
    """The names of the tables a statement reads or writes; None when that cannot be told (text)."""
    if isinstance(statement, UpdateBase):
        return {_name(statement)}
    tables = find_tables(statement, include_joins=True, include_selects=True, include_crud=True)
    return {str(t.name) for t in tables if getattr(t, "name", None)} if tables else None


def install(engine: Engine) -> None:
    """Send the buffer before any statement that touches its tables (once per engine)."""
    if event.contains(engine, "before_execute", _before_execute):
        return
    event.listen(engine, "before_execute", _before_execute)


def _before_execute(conn: Connection, statement: Any, *_: Any) -> None:
    buffer: WriteBuffer | None = conn.info.get(_KEY)
    if buffer is None or buffer._flushing or not (buffer.rows or buffer.updates):
        return
    if not isinstance(statement, ClauseElement):
        return
    touched = _touched(statement)
    if touched is None or touched & buffer.tables():
        buffer.flush_for(touched)
