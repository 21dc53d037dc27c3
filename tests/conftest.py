"""Shared fixtures: a fresh database per test on each storage lane, and an authenticated client.

The PostgreSQL lane creates a database with a fresh name and drops it afterwards. Without a
reachable PostgreSQL it skips with a message, unless BILLHOOK_REQUIRE_POSTGRES=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

PG_ADMIN_URL = os.environ.get("BILLHOOK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("BILLHOOK_REQUIRE_POSTGRES") == "1"
CLOCK_START = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)


def _pg_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure: the lane cannot run here
        return f"PostgreSQL lane skipped: cannot connect to {PG_ADMIN_URL} ({type(exc).__name__}: {exc})"


_PG_REASON = _pg_unavailable()


def _sa_url(dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=dbname).render_as_string(False)


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    if _PG_REASON:
        if REQUIRE_PG:
            pytest.fail(_PG_REASON.replace("skipped", "required (BILLHOOK_REQUIRE_POSTGRES=1) but unavailable"))
        pytest.skip(_PG_REASON)
    name = f"billhook_test_{uuid.uuid4().hex[:16]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield _sa_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """Each test using it runs twice: on an SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'billhook.db'}"
    else:
        yield from postgres_database()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """PostgreSQL only (multi-process tests)."""
    yield from postgres_database()


@pytest.fixture
def runtime(db_url: str) -> Iterator[Any]:
    from billhook.config import Settings
    from billhook.runtime import Runtime

    rt = Runtime.start(Settings(database_url=db_url, test_clock=True, test_clock_start=CLOCK_START))
    yield rt
    rt.close()


class Api:
    """A thin client for tests: JSON in, response out, auth header set."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key
        self.headers = {"Authorization": f"Bearer {key}"}

    def request(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, "/api/v1" + path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=json if json is not None else {}, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, f"{response.status_code}: {response.text}"
        return response.json() if response.content else None

    def advance(self, **body: Any) -> Any:
        return self.ok(self.post("/test-clock/advance?wait=true", body))


def new_key(runtime: Any, namespace: str = "default") -> str:
    from billhook.services import apikeys

    with runtime.uows.write() as uow:
        return apikeys.create(uow, namespace)


@pytest.fixture
def api(runtime: Any) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from billhook.api.app import create_app

    with TestClient(create_app(runtime)) as client:
        yield Api(client, new_key(runtime))


TEAM_PLAN: dict[str, Any] = {
    "key": "team",
    "name": "Team",
    "currency": "EUR",
    "billingCadence": "P1M",
    "charges": [{"key": "base", "name": "Team plan", "price": {"type": "flat", "amount": "29.00"}}],
    "items": [
        {
            "key": "storage_gb",
            "name": "Storage (GB)",
            "includedQuantity": "10",
            "usageType": "metered",
            "price": {"type": "unit", "amount": "0.25"},
        },
        {
            "key": "seats",
            "name": "Seats",
            "usageType": "licensed",
            "price": {
                "type": "tiered",
                "mode": "volume",
                "tiers": [
                    {"upToAmount": "10", "unitPrice": {"amount": "9.00"}},
                    {"unitPrice": {"amount": "7.50"}},
                ],
            },
        },
    ],
}
