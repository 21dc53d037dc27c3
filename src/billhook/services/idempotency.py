"""Stored responses for ``Idempotency-Key``: claim a key, then record what the first request got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from billhook.services.apikeys import Principal
from billhook.store.schema import idempotency_keys
from billhook.store.uow import UnitOfWorkFactory

TTL = timedelta(hours=24)
Outcome = Literal["new", "replay", "mismatch", "in_progress"]


@dataclass(frozen=True)
class Stored:
    status_code: int
    content_type: str | None
    body: str


def _where(principal: Principal, key: str) -> ColumnElement[bool]:
    return (idempotency_keys.c.key == key) & (idempotency_keys.c.api_key_id == principal.api_key_id)


def claim(
    uows: UnitOfWorkFactory, principal: Principal, key: str, method: str, path: str, digest: str
) -> tuple[Outcome, Stored | None]:
    """Claim ``key`` for this request, or say why not (a replay carries the stored response)."""
    where = _where(principal, key)
    with uows.write(principal.namespace) as uow:
        uow.conn.execute(delete(idempotency_keys).where(where, idempotency_keys.c.created_at < uow.now - TTL))
        row = uow.conn.execute(select(idempotency_keys).where(where)).first()
        if row is not None:
            if row.request_hash != digest:
                return "mismatch", None
            if not row.completed:
                return "in_progress", None
            return "replay", Stored(row.status_code, row.content_type, row.response_body or "")
        try:
            uow.conn.execute(
                insert(idempotency_keys).values(
                    namespace=principal.namespace,
                    key=key,
                    api_key_id=principal.api_key_id,
                    method=method,
                    path=path,
                    request_hash=digest,
                    completed=False,
                    created_at=uow.now,
                )
            )
            uow.commit()
        except IntegrityError:
            return "in_progress", None
    return "new", None


def finish(uows: UnitOfWorkFactory, principal: Principal, key: str, response: Stored) -> None:
    """Keep the response for replays; a server error releases the key so the client can retry."""
    where = _where(principal, key)
    with uows.write(principal.namespace) as uow:
        if response.status_code >= 500:
            uow.conn.execute(delete(idempotency_keys).where(where))
        else:
            uow.conn.execute(
                update(idempotency_keys)
                .where(where)
                .values(
                    completed=True,
                    status_code=response.status_code,
                    content_type=response.content_type,
                    response_body=response.body,
                )
            )
