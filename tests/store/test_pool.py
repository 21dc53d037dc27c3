"""Pooled PostgreSQL connections: checked before use only after sitting idle, replaced when dead."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from billhook.store import db
from billhook.store.db import make_engine

BACKEND_PID = text("SELECT pg_backend_pid()")


def test_postgresql_connection_killed_while_idle_is_replaced(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url, pool_size=1)
    admin = make_engine(pg_url, pool_size=1)
    try:
        with engine.connect() as conn:
            first = conn.execute(BACKEND_PID).scalar_one()
        with admin.connect() as conn:  # as a server restart or a firewall would, while it sits in the pool
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle long enough
        with engine.connect() as conn:  # the ping finds it dead: the pool hands out a new one
            second = conn.execute(BACKEND_PID).scalar_one()
        assert second != first
    finally:
        engine.dispose()
        admin.dispose()


def test_postgresql_connection_in_steady_use_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection back in the pool a moment ago is used as it is: no round trip before the work;
    one idle for longer is pinged first."""
    engine = make_engine(pg_url, pool_size=1)
    pings: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or ping(conn))
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(BACKEND_PID)
        assert pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as conn:
            conn.execute(BACKEND_PID)
        assert len(pings) == 1
    finally:
        engine.dispose()
