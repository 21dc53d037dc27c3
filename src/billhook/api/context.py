"""Per-request context: the caller (from the API key) and one unit of work per call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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

    def write(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        with self.runtime.uows.write() as uow:
            return fn(uow, self.actor, *args, **kwargs)

    def read(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        with self.runtime.uows(readonly=True) as uow:
            return fn(uow, self.namespace, *args, **kwargs)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def authenticate(rt: Runtime, header: str | None) -> apikeys.Principal:
    if not header or not header.lower().startswith("bearer "):
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    with rt.uows(readonly=True) as uow:
        return apikeys.authenticate(uow, header[7:].strip())


def context(request: Request, _creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Ctx:
    rt = runtime(request)
    cached = getattr(request.state, "principal", None)
    principal = cached or authenticate(rt, request.headers.get("authorization"))
    return Ctx(rt, principal)
