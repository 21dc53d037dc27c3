"""Refuse NUL characters anywhere in a request: PostgreSQL cannot store them, so no value may carry one.

Answers a 400 problem naming the field (``body`` fields by their JSON path, ``path`` or ``query``
parameters by name) before any handler runs, so nothing changes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billhook.api.problems import problem

NUL = "\x00"


def _find(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return where
            found = _find(item, where)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _find(item, f"{path}[{i}]")
            if found:
                return found
    return None


class TextGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = None
        if NUL in unquote(scope.get("raw_path", b"").decode("latin-1")) or NUL in scope.get("path", ""):
            field = "path"
        for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
            if field is None and (NUL in name or NUL in value):
                field = name
        body = b""
        more = True
        messages: list[Message] = []
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if field is None and (b"\\u0000" in body or b"\x00" in body):
            try:
                field = _find(json.loads(body), "") or "body"
            except ValueError:
                field = "body"
        if field is not None:
            await problem(
                400,
                "invalid_input",
                f"{field}: must not contain NUL characters",
                [{"field": field, "message": "must not contain NUL characters"}],
                instance=scope.get("path", ""),
            )(scope, receive, send)
            return

        async def replay() -> Message:
            # the body we read first, then the real channel (a disconnect arrives only when it happens)
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
