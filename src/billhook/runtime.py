"""Wiring: from settings to an engine, a clock, a unit-of-work factory and a worker."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from billhook.config import Settings
from billhook.services import test_clock
from billhook.store import migrate
from billhook.store.clock import Clock, StoredTestClock, SystemClock
from billhook.store.db import make_engine
from billhook.store.uow import UnitOfWorkFactory
from billhook.worker.loop import Worker


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    clock: Clock
    uows: UnitOfWorkFactory
    _drainer: Worker | None = None

    @classmethod
    def start(cls, settings: Settings, *, migrate_db: bool = True) -> Runtime:
        engine = make_engine(settings.database_url)
        if migrate_db:
            migrate.upgrade(engine)
        clock: Clock = StoredTestClock(settings.test_clock_start) if settings.test_clock else SystemClock()
        uows = UnitOfWorkFactory(engine, clock)
        if settings.test_clock:
            with uows.write() as uow:  # the namespaces' clocks, at the start, before workers look for due work
                test_clock.make_clocks(uow)
        return cls(settings, engine, clock, uows)

    def worker(self, name: str | None = None) -> Worker:
        s = self.settings
        return Worker(
            self.uows,
            name=name,
            batch_size=s.worker_batch_size,
            chunk_size=s.worker_chunk_size,
            lease=s.worker_lease,
            poll_interval=s.worker_poll_interval,
            allow_private_webhooks=s.allow_private_webhooks,
        )

    def drainer(self) -> Worker:
        """The worker that test-clock advances use to process what fell due (one per runtime)."""
        if self._drainer is None:
            self._drainer = self.worker()
        return self._drainer

    def close(self) -> None:
        if self._drainer is not None:
            self._drainer.close()
        self.engine.dispose()
