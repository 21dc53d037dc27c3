"""Per-request context: the caller (from the API key) and one unit of work per call."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from billhook.errors import Unauthorized
from billhook.runtime import Runtime
from billhook.services import apikeys
from billhook.services.common import Actor

R = TypeVar("R")
bearer = HTTPBearer(auto_error=False, description="An API key from `billhook apikey create`")


class Ctx:
    def __init__(self, runtime: Runtime, principal: apikeys.Principal) -> None:
        self.runtime = runtime
        self.principal = principal
        self.actor = Actor(principal.namespace, f"api_key:{principal.api_key_id}")

    def integration(self) -> Ctx:
        """The same caller acting as an integration (recorded so in invoice history)."""
        ctx = Ctx(self.runtime, self.principal)
        ctx.actor = Actor(self.principal.namespace, f"integration:{self.principal.api_key_id}")
        return ctx

    @property
    def namespace(self) -> str:
        return self.principal.namespace

    # A route is ``async`` and awaits one of these: its unit of work runs on a worker thread, the one
    # thread hop of the request (a sync route would take a second one, for its response's validation).

    async def write(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(uow, actor, *args, **kwargs)`` in one write unit of work."""
        return await run_in_threadpool(self._in_unit_of_work, False, fn, self.actor, *args, **kwargs)

    async def read(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(uow, namespace, *args, **kwargs)`` in one read-only unit of work."""
        return await run_in_threadpool(self._in_unit_of_work, True, fn, self.namespace, *args, **kwargs)

    def _in_unit_of_work(self, readonly: bool, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        uows = self.runtime.uows
        unit = uows(readonly=True, namespace=self.namespace) if readonly else uows.write(self.namespace)
        with unit as uow:
            return fn(uow, *args, **kwargs)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


class Principals:
    """API keys recently found valid, so that a busy client's requests skip the lookup.

    Keyed by the key's SHA-256 (the secret itself is not kept); an entry is trusted for
    ``TRUST_SECONDS``, then looked up again, so a key removed or revoked in the database stops
    working within that time in every server process. Unknown keys are never remembered: a key
    created a moment ago works at once.
    """

    TRUST_SECONDS = 2.0
    MAX_KEYS = 1024

    def __init__(self) -> None:
        self._known: dict[bytes, tuple[apikeys.Principal, float]] = {}

    def get(self, key: str) -> apikeys.Principal | None:
        found = self._known.get(apikeys.digest(key))
        if found is None or time.monotonic() > found[1]:
            return None
        return found[0]

    def put(self, key: str, principal: apikeys.Principal) -> None:
        if len(self._known) >= self.MAX_KEYS:
            self._known.clear()
        self._known[apikeys.digest(key)] = (principal, time.monotonic() + self.TRUST_SECONDS)


def _bearer(header: str | None) -> str:
    if not header or not header.lower().startswith("bearer "):
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    return header[7:].strip()


def _lookup(rt: Runtime, key: str) -> apikeys.Principal:
    with rt.uows(readonly=True) as uow:
        return apikeys.authenticate(uow, key)


async def authenticate(app: Any, header: str | None) -> apikeys.Principal:
    """The caller of a request with this ``Authorization`` header (Unauthorized if none is valid)."""
    key = _bearer(header)
    principals: Principals = app.state.principals
    principal = principals.get(key)
    if principal is None:
        principal = await run_in_threadpool(_lookup, app.state.runtime, key)
        principals.put(key, principal)
    return principal


async def context(request: Request, _creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Ctx:
    principal = await authenticate(request.app, request.headers.get("authorization"))
    return Ctx(runtime(request), principal)
