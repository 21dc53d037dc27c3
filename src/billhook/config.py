"""Settings from the environment (``BILLHOOK_*``), overridable by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

DEFAULT_DATABASE_URL = "sqlite:///./billhook.db"


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _when(raw: str | None) -> datetime | None:
    if not raw:
        return None
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    test_clock: bool = False
    test_clock_start: datetime | None = None
    webhook_allow_private: bool | None = None  # None: allowed on the embedded SQLite set-up only
    worker_batch_size: int = 400
    worker_chunk_size: int = 100  # rows of a batch processed in one transaction
    worker_lease: timedelta = field(default=timedelta(seconds=60))
    worker_poll_interval: float = 0.5
    run_worker: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        allow = os.environ.get("BILLHOOK_WEBHOOK_ALLOW_PRIVATE")
        return cls(
            database_url=os.environ.get("BILLHOOK_DATABASE_URL") or DEFAULT_DATABASE_URL,
            test_clock=_flag("BILLHOOK_TEST_CLOCK", False),
            test_clock_start=_when(os.environ.get("BILLHOOK_TEST_CLOCK_START")),
            webhook_allow_private=None if allow in (None, "") else _flag("BILLHOOK_WEBHOOK_ALLOW_PRIVATE", False),
            worker_batch_size=int(os.environ.get("BILLHOOK_WORKER_BATCH_SIZE", cls.worker_batch_size)),
            worker_chunk_size=int(os.environ.get("BILLHOOK_WORKER_CHUNK_SIZE", cls.worker_chunk_size)),
            worker_lease=timedelta(seconds=float(os.environ.get("BILLHOOK_WORKER_LEASE_SECONDS", "60"))),
            worker_poll_interval=float(os.environ.get("BILLHOOK_WORKER_POLL_SECONDS", "0.5")),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def allow_private_webhooks(self) -> bool:
        return self.is_sqlite if self.webhook_allow_private is None else self.webhook_allow_private
