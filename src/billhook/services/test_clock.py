"""The test clock: read it, move it forward."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billhook.errors import Conflict, InvalidInput
from billhook.services.common import duration_field, iso, utc_field
from billhook.store.clock import StoredTestClock
from billhook.store.uow import UnitOfWork


def _clock(uow: UnitOfWork) -> StoredTestClock:
    if not isinstance(uow.clock, StoredTestClock):
        raise Conflict("the test clock is off; start the server with --test-clock", code="test_clock_off")
    return uow.clock


def show(uow: UnitOfWork) -> dict[str, Any]:
    _clock(uow)
    return {"now": iso(uow.now), "enabled": True}


def advance(uow: UnitOfWork, *, to: datetime | None = None, by: str | None = None) -> dict[str, Any]:
    clock = _clock(uow)
    if (to is None) == (by is None):
        raise InvalidInput.on("to", "give either to or by")
    if to is not None:
        target = utc_field(to, "to")
    else:
        assert by is not None
        try:
            target = duration_field(by, "by").after(uow.now)
        except (OverflowError, ValueError) as exc:
            raise InvalidInput.on("by", "is too long") from exc
    if target < uow.now:
        raise InvalidInput.on(
            "to" if to is not None else "by", f"the test clock only moves forward (it is {iso(uow.now)})"
        )
    clock.set(uow.conn, target)
    return {"now": iso(target), "enabled": True}
