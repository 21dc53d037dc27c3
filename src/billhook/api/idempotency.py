"""``Idempotency-Key`` on POST: a retry with the same key and body gets the first response.

The same key with another body is a 422; a retry while the first request still runs is a 409.
Keys are scoped to the API key that sent them and kept for 24 hours.
"""

from __future__ import annotations

import hashlib
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billhook.api.context import authenticate
from billhook.api.problems import problem
from billhook.errors import Unauthorized
from billhook.runtime import Runtime
from billhook.services import idempotency

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
        replay = _replayer(body, receive)
        if len(key) > MAX_KEY:
            message = f"at most {MAX_KEY} characters"
            errors = [{"field": "Idempotency-Key", "message": message}]
            await problem(400, "invalid_input", f"Idempotency-Key: {message}", errors)(scope, replay, send)
            return
        rt: Runtime = scope["app"].state.runtime
        try:
            principal = await authenticate(scope["app"], headers.get("authorization"))
        except Unauthorized:
            await self.app(scope, replay, send)  # the route answers 401
            return
        parts = [scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body]
        digest = hashlib.sha256(b"\0".join(parts)).hexdigest()
        outcome, stored = await anyio.to_thread.run_sync(
            idempotency.claim, rt.uows, principal, key, scope["method"], scope["path"], digest
        )
        if outcome == "mismatch":
            errors = [{"field": "Idempotency-Key", "message": "reused with a different request"}]
            detail = "this Idempotency-Key was used with another request"
            await problem(422, "idempotency_key_reused", detail, errors)(scope, replay, send)
            return
        if outcome == "in_progress":
            detail = "a request with this Idempotency-Key is still being processed"
            await problem(409, "idempotency_in_progress", detail)(scope, replay, send)
            return
        if outcome == "replay" and stored is not None:
            await _send_stored(send, stored)
            return

        captured: dict[str, Any] = {"status": 500, "content_type": None, "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["content_type"] = next(
                    (v.decode() for k, v in message.get("headers", []) if k.lower() == b"content-type"), None
                )
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay, capture)
        finally:
            response = idempotency.Stored(
                captured["status"], captured["content_type"], captured["body"].decode(errors="replace")
            )
            await anyio.to_thread.run_sync(idempotency.finish, rt.uows, principal, key, response)


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


def _replayer(body: bytes, receive: Receive) -> Receive:
    """The body read up front, then the real channel (so a disconnect is seen only when it happens)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_stored(send: Send, stored: idempotency.Stored) -> None:
    raw = stored.body.encode()
    headers = [(b"content-length", str(len(raw)).encode()), (b"idempotent-replayed", b"true")]
    if stored.content_type:
        headers.append((b"content-type", stored.content_type.encode()))
    await send({"type": "http.response.start", "status": stored.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
