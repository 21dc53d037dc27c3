"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert, select, text

from billhook.store.db import make_engine
from billhook.store.migrate import alembic_config, is_current, upgrade
from billhook.store.schema import events, metadata


def test_migrations_match_the_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert not is_current(engine)
        upgrade(engine)
        assert is_current(engine)
        upgrade(engine)  # applying again is a no-op
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def _downgrade(engine: Engine, to: str) -> None:
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, to)


def test_event_payloads_are_text_compressed_with_lz4(pg_url: str) -> None:
    """PostgreSQL column settings (SQLite stores JSON as text as it is): ``text``, which the server
    stores without parsing, and lz4; a payload written at the head reads back the same after going
    back to ``json`` and forth again."""
    engine = make_engine(pg_url)
    column = text(
        "SELECT format_type(atttypid, atttypmod), attcompression FROM pg_attribute"
        " WHERE attrelid = 'events'::regclass AND attname = 'data'"
    )
    payload = {"number": "INV-000001", "lines": [{"amount": "29.00", "name": 'naïve € 💶 "quoted"'}], "n": None}
    row = {"id": "01J0000000000000000000EVNT", "namespace": "default", "type": "invoice.paid", "subject_id": None}
    read = select(events.c.data).where(events.c.id == row["id"])
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(events), [row | {"occurred_at": datetime(2026, 1, 1, tzinfo=UTC), "data": payload}])
        with engine.connect() as conn:
            assert tuple(conn.execute(column).one()) == ("text", "l")  # lz4: Debian's PostgreSQL is built with it
            assert conn.execute(read).scalar_one() == payload
        _downgrade(engine, "0002")
        with engine.connect() as conn:
            assert tuple(conn.execute(column).one()) == ("json", "l")
            stored = conn.execute(text("SELECT data::text FROM events WHERE id = :id"), {"id": row["id"]}).scalar_one()
            assert json.loads(stored) == payload
        _downgrade(engine, "0001")
        with engine.connect() as conn:
            assert tuple(conn.execute(column).one()) == ("json", "")  # the server's default compression again
        upgrade(engine)
        assert is_current(engine)
        with engine.connect() as conn:
            assert tuple(conn.execute(column).one()) == ("text", "l")
            assert conn.execute(read).scalar_one() == payload
    finally:
        engine.dispose()
