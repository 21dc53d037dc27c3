"""Engines and the two locking modes.

SQLite: WAL journal, ``BEGIN IMMEDIATE`` for every writing transaction (one writer at a time,
readers never blocked). PostgreSQL: READ COMMITTED with ``SELECT … FOR UPDATE`` row locks and
``SKIP LOCKED`` when claiming work.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

READONLY = "billhook_readonly"
PING_AFTER_IDLE_SECONDS = 1.0  # a PostgreSQL connection idle longer is checked before use
SQLITE_BUSY_SECONDS = 60  # how long a writer waits for SQLite's one write lock before it gives up


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def json_text(value: Any) -> str:
    """JSON columns as text (orjson: the event payloads are the largest thing the worker writes)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            pool_size=pool_size,
            max_overflow=20,
            json_serializer=json_text,
            json_deserializer=orjson.loads,
        )
        _sqlite_setup(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg2", ""):
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=20,
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has sat idle for a while.

    ``pool_pre_ping`` would ping at every checkout: a round trip more for each transaction, which is
    a fifth of a busy API request's. A connection in steady use has just proved itself; one that
    sat idle may have been dropped by a server restart or a firewall, and is pinged, and replaced if
    dead (the pool retries the checkout on ``DisconnectionError``).
    """

    @event.listens_for(engine.pool, "connect")
    @event.listens_for(engine.pool, "checkin")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:  # just made, or just used
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info["idle_since"] < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get(READONLY) else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")
