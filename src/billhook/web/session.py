"""Dashboard sign-in: an API key entered once, kept as a signed, http-only, SameSite=Strict session
cookie; every form carries a per-session CSRF token."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request

from billhook.errors import Unauthorized
from billhook.runtime import Runtime
from billhook.services import apikeys
from billhook.services.common import Actor


class SignedOut(Exception):
    """No valid session: the page sends the user to the login page."""


def sign_in(request: Request, runtime: Runtime, key: str) -> None:
    with runtime.uows(readonly=True) as uow:
        principal = apikeys.authenticate(uow, key.strip())
    request.session.clear()
    request.session.update({"kid": principal.api_key_id, "ns": principal.namespace, "csrf": secrets.token_urlsafe(24)})


def actor(request: Request, runtime: Runtime) -> Actor:
    """The signed-in operator; the API key must still exist."""
    kid, ns = request.session.get("kid"), request.session.get("ns")
    if not kid or not ns:
        raise SignedOut
    with runtime.uows(readonly=True) as uow:
        try:
            apikeys.check_id(uow, kid)
        except Unauthorized as exc:
            request.session.clear()
            raise SignedOut from exc
    return Actor(ns, f"dashboard:{kid}")


def csrf_token(request: Request) -> str:
    return str(request.session.get("csrf", ""))


def check_csrf(request: Request, form: Any) -> None:
    sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise PermissionError("the form's CSRF token does not match this session; reload the page")


def flash(request: Request, kind: str, text: str) -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "text": text})


def take_flashes(request: Request) -> list[dict[str, str]]:
    return request.session.pop("flash", []) or []
