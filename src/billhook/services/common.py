"""What every use case shares: who acts, lists and pages, input parsing that names the field."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, func, select

from billhook.domain.money import MoneyError, minor_units, parse_decimal
from billhook.domain.periods import Duration, DurationError
from billhook.errors import InvalidInput
from billhook.store.uow import UnitOfWork

T = TypeVar("T")
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Actor:
    """Who fires a change: recorded on every invoice transition."""

    namespace: str
    name: str  # "api_key:<id>", "worker:<id>", "cli", "integration:<id>"


@dataclass(frozen=True)
class Page:
    page: int = 1
    page_size: int = 100

    def __post_init__(self) -> None:
        if self.page < 1:
            raise InvalidInput.on("page", "must be 1 or more")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput.on("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")


def paginate(
    uow: UnitOfWork, query: Select[Any], page: Page, view: Callable[[Any], Mapping[str, Any]]
) -> dict[str, Any]:
    total = uow.conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = uow.conn.execute(query.limit(page.page_size).offset((page.page - 1) * page.page_size)).all()
    return {
        "items": [view(r) for r in rows],
        "page": page.page,
        "pageSize": page.page_size,
        "totalCount": total,
    }


def decimal_field(raw: object, field: str, *, max_places: int, allow_negative: bool = False) -> Decimal:
    try:
        return parse_decimal(raw, max_places=max_places, allow_negative=allow_negative)
    except MoneyError as exc:
        raise InvalidInput.on(field, str(exc)) from exc


def currency_field(raw: str, field: str = "currency") -> str:
    try:
        minor_units(raw)
    except MoneyError as exc:
        raise InvalidInput.on(field, str(exc)) from exc
    return raw


def duration_field(raw: str, field: str) -> Duration:
    try:
        return Duration.parse(raw)
    except DurationError as exc:
        raise InvalidInput.on(field, str(exc)) from exc


def utc_field(raw: datetime, field: str) -> datetime:
    if raw.tzinfo is None:
        raise InvalidInput.on(field, "must carry a time zone (RFC 3339, e.g. 2026-04-30T00:00:00Z)")
    value = raw.astimezone(UTC)
    if not datetime(1970, 1, 1, tzinfo=UTC) <= value <= datetime(9000, 1, 1, tzinfo=UTC):
        raise InvalidInput.on(field, "is out of range")
    return value


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``. The same few instants recur in every view (now, period bounds)."""
    return None if value is None else _iso(value)


@functools.lru_cache(maxsize=4096)
def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
