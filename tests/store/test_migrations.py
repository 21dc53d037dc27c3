"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from billhook.store.db import make_engine
from billhook.store.migrate import alembic_config, is_current, upgrade
from billhook.store.schema import metadata


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


def test_event_payloads_are_compressed_with_lz4(pg_url: str) -> None:
    """A PostgreSQL column setting (SQLite stores text as it is)."""
    engine = make_engine(pg_url)
    compression = text(
        "SELECT attcompression FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'data'"
    )
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(compression).scalar() == "l"  # lz4 (Debian's PostgreSQL is built with it)
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        with engine.connect() as conn:
            assert conn.execute(compression).scalar() == ""  # the server's default again
        upgrade(engine)
        assert is_current(engine)
    finally:
        engine.dispose()
