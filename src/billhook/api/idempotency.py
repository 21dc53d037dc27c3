"""``Idempotency-Key`` on POST: a retry with the same key and body gets the first response.

The same key with another body is a 422; a retry while the first request still runs is a 409.
Keys are scoped to the API key that sent them and kept for 24 hours.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billhook.api.context import authenticate
from billhook.api.problems import problem
from billhook.errors import Unauthorized
from billhook.runtime import Runtime
from billhook.services.apikeys import Principal
from billhook.store.schema import idempotency_keys

TTL = timedelta(hours=24)
MAX_KEY = 256


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if not key:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replayer(body)
        if len(key) > MAX_KEY:
            await problem(
                400,
                "invalid_input",
                "Idempotency-Key: at most 256 characters",
                [{"field": "Idempotency-Key", "message": "at most 256 characters"}],
            )(scope, replay, send)
            return
        rt: Runtime = scope["app"].state.runtime
        try:
            principal = await anyio.to_thread.run_sync(authenticate, rt, headers.get("authorization"))
        except Unauthorized:
            await self.app(scope, replay, send)  # the route answers 401
            return
        digest = hashlib.sha256(
            b"\0".join([scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        where = (idempotency_keys.c.key == key) & (idempotency_keys.c.api_key_id == principal.api_key_id)
        outcome, row = await anyio.to_thread.run_sync(_begin, rt, principal, key, scope, digest, where)
        if outcome == "mismatch":
            await problem(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request",
                [{"field": "Idempotency-Key", "message": "reused with a different request"}],
            )(scope, replay, send)
            return
        if outcome == "in_progress":
            await problem(
                409, "idempotency_in_progress", "a request with this Idempotency-Key is still being processed"
            )(scope, replay, send)
            return
        if outcome == "replay":
            await _send_stored(send, row.status_code, row.content_type, row.response_body or "")
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay, capture)
        finally:
            await anyio.to_thread.run_sync(_finish, rt, where, captured)


def _begin(rt: Runtime, principal: Principal, key: str, scope: Scope, digest: str, where: Any) -> tuple[str, Any]:
    with rt.uows.write() as uow:
        uow.conn.execute(delete(idempotency_keys).where(where, idempotency_keys.c.created_at < uow.now - TTL))
        row = uow.conn.execute(select(idempotency_keys).where(where)).first()
        if row is not None:
            if row.request_hash != digest:
                return "mismatch", row
            return ("replay" if row.completed else "in_progress"), row
        try:
            uow.conn.execute(
                insert(idempotency_keys).values(
                    namespace=principal.namespace,
                    key=key,
                    api_key_id=principal.api_key_id,
                    method=scope["method"],
                    path=scope["path"],
                    request_hash=digest,
                    completed=False,
                    created_at=uow.now,
                )
            )
            uow.commit()
        except IntegrityError:
            return "in_progress", None
        return "new", None


def _finish(rt: Runtime, where: Any, captured: dict[str, Any]) -> None:
    with rt.uows.write() as uow:
        if captured["status"] >= 500:
            uow.conn.execute(delete(idempotency_keys).where(where))
        else:
            ctype = next((v.decode() for k, v in captured["headers"] if k.lower() == b"content-type"), None)
            uow.conn.execute(
                update(idempotency_keys)
                .where(where)
                .values(
                    completed=True,
                    status_code=captured["status"],
                    content_type=ctype,
                    response_body=captured["body"].decode(errors="replace"),
                )
            )
        uow.commit()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replayer(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _send_stored(send: Send, status: int, content_type: str | None, body: str) -> None:
    raw = body.encode()
    headers = [(b"content-length", str(len(raw)).encode()), (b"idempotent-replayed", b"true")]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
