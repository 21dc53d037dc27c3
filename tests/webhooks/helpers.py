"""Shared steps for the webhook tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import TEAM_PLAN, Api
from tests.webhooks.listener import Listener

SUB_START = "2026-03-31T00:00:00Z"
PERIOD_END = "2026-04-30T00:00:00Z"


def endpoint(api: Api, listener: Listener, name: str = "hook", types: list[str] | None = None, **extra: Any) -> dict:
    """Register ``listener.url(name)``; the answer carries the secret."""
    body = {"url": listener.url(name), "eventTypes": types or [], **extra}
    created: dict[str, Any] = api.ok(api.post("/webhooks/endpoints", body), 201)
    assert created["secret"].startswith("whsec_")
    listener.secrets.setdefault(name, []).append(created["secret"])
    return created


def flush(api: Api) -> None:
    """Process whatever is due now (the test clock stays where it is)."""
    api.advance(by="PT0S")


def now(api: Api) -> str:
    current: str = api.ok(api.get("/test-clock"))["now"]
    return current


def deliveries(api: Api, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    body = api.ok(api.get(f"/webhooks/deliveries?pageSize=1000&{query}"))
    assert body["totalCount"] == len(body["items"])
    items: list[dict[str, Any]] = body["items"]
    return items


def team_subscription(api: Api, customer: str = "acme", start: str | None = SUB_START) -> dict[str, Any]:
    """The Team plan (unless it exists), a customer and a subscription starting at ``start`` (None: now)."""
    if api.get("/plans/team").status_code == 404:
        api.ok(api.post("/plans", TEAM_PLAN), 201)
    api.ok(api.post("/customers", {"key": customer, "name": customer.title(), "currency": "EUR"}), 201)
    sub: dict[str, Any] = api.ok(
        api.post("/subscriptions", {"customerId": customer, "plan": "team"} | ({"startAt": start} if start else {})),
        201,
    )
    return sub
