"""Inserting many rows at once: COPY on PostgreSQL (the server's own bulk path), executemany elsewhere.

The COPY is binary: nothing is escaped on the way (the event payloads are kilobytes of JSON each), and
the server parses no text for timestamps. Binary needs each column's exact type, which is read from the
table once per process (``_types``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Table, insert
from sqlalchemy.engine import Dialect

COPY_FROM = 10  # rows: fewer go as an ordinary INSERT

_Processors = list[tuple[str, Any]]
_processors: dict[tuple[str, str, tuple[str, ...]], _Processors] = {}
_oids: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same columns) into ``table``, as Core's ``insert`` would."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        conn.execute(insert(table), rows)
        return
    names = tuple(c.name for c in table.c if c.name in rows[0])
    processors = _for(conn.dialect, table, names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    columns = ", ".join(f'"{name}"' for name in names)
    with cursor:
        oids = _types(cursor, table.name, names, columns)
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(oids)
            for row in rows:  # values as the column types bind them (Decimal as text, JSON, UTC)
                copy.write_row([row[name] if bind is None else bind(row[name]) for name, bind in processors])


def _types(cursor: Any, table: str, names: tuple[str, ...], columns: str) -> list[int]:
    """The type of each column, as the server has it (binary COPY sends each value in its type's format)."""
    key = (table, names)
    if key not in _oids:
        cursor.execute(f'SELECT {columns} FROM "{table}" WHERE false')
        _oids[key] = [column.type_code for column in cursor.description]
    return _oids[key]


def _for(dialect: Dialect, table: Table, names: tuple[str, ...]) -> _Processors:
    key = (dialect.name, table.name, names)
    if key not in _processors:
        _processors[key] = [(name, _bind(table.c[name], dialect)) for name in names]
    return _processors[key]


def _bind(column: Column[Any], dialect: Dialect) -> Any:
    return column.type.dialect_impl(dialect).bind_processor(dialect)
