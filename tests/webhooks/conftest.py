"""Fixtures for the webhook tests: a runtime that allows loopback listeners on both lanes, and a listener."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import CLOCK_START
from tests.webhooks.listener import Listener


@pytest.fixture
def runtime(db_url: str) -> Iterator[Any]:
    """Like the shared one, but webhooks may go to loopback listeners on PostgreSQL too."""
    from billhook.config import Settings
    from billhook.runtime import Runtime

    settings = Settings(database_url=db_url, test_clock=True, test_clock_start=CLOCK_START, webhook_allow_private=True)
    rt = Runtime.start(settings)
    yield rt
    rt.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A listener; afterwards, every request it received must verify with its endpoint's secret."""
    lst = Listener()
    yield lst
    lst.close()
    lst.check_all()
