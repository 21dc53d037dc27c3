"""Shared steps for the API tests: set-ups, invoice look-ups and problem+json checks."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import TEAM_PLAN, Api

PROBLEM = "application/problem+json"


def problem(response: Any, status: int, *, field: str | None = None, code: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem response; ``field`` must be named in ``errors``, ``code`` end ``type``."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
    body = response.json()
    for member in ("type", "title", "status", "detail"):
        assert member in body, body
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        fields = [e["field"] for e in body.get("errors") or []]
        assert field in fields, f"{field!r} not named in {fields}: {body}"
    if code is not None:
        assert body["type"].endswith("/" + code), body["type"]
    return body


def team_plan(**changes: Any) -> dict[str, Any]:
    plan = copy.deepcopy(TEAM_PLAN)
    plan.update(changes)
    return plan


def setup_team(api: Api, *, plan: dict[str, Any] | None = None, customer: str = "acme") -> None:
    """The Team plan and an EUR customer."""
    api.ok(api.post("/plans", plan or TEAM_PLAN), 201)
    api.ok(api.post("/customers", {"key": customer, "name": customer.title(), "currency": "EUR"}), 201)


def subscribe(api: Api, customer: str = "acme", plan: str = "team", **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.post("/subscriptions", {"customerId": customer, "plan": plan, **extra}), 201)
    return result


def all_invoices(api: Api, sub_id: str) -> list[dict[str, Any]]:
    """Every invoice of a subscription (gathering included), with lines, oldest period first."""
    body = api.ok(api.get(f"/billing/invoices?subscription={sub_id}&expand=lines&pageSize=1000"))
    assert body["totalCount"] == len(body["items"])
    # within a period: issued ones in issue order (the opening invoice first), then drafts, then gathering
    return sorted(
        body["items"],
        key=lambda i: (
            i["period"]["from"],
            i["issuedAt"] is None,
            i["number"] if i["issuedAt"] else "",  # gap-free numbers follow issue order
            i["status"] == "gathering",
            i["createdAt"],
        ),
    )


def closed_invoices(api: Api, sub_id: str) -> list[dict[str, Any]]:
    """The invoices of a subscription that have left gathering, oldest first."""
    return [i for i in all_invoices(api, sub_id) if i["status"] != "gathering"]


def gathering(api: Api, sub_id: str) -> dict[str, Any]:
    (inv,) = [i for i in all_invoices(api, sub_id) if i["status"] == "gathering"]
    return inv


def lines(invoice: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An invoice's lines by name (names are unique on the invoices these tests build)."""
    out = {line["name"]: line for line in invoice["lines"]}
    assert len(out) == len(invoice["lines"]), [line["name"] for line in invoice["lines"]]
    return out


def line_totals(invoice: dict[str, Any]) -> dict[str, str]:
    return {name: line["totals"]["total"] for name, line in lines(invoice).items()}


def count(api: Api, path: str) -> int:
    sep = "&" if "?" in path else "?"
    total: int = api.ok(api.get(f"{path}{sep}pageSize=1"))["totalCount"]
    return total


def snapshot(api: Api) -> dict[str, int]:
    """How many of each resource the namespace holds: a failed call must leave this unchanged."""
    return {
        "customers": count(api, "/customers?includeDeleted=true"),
        "plans": count(api, "/plans"),
        "subscriptions": count(api, "/subscriptions"),
        "invoices": count(api, "/billing/invoices"),
    }


def item(api: Api, sub_id: str, key: str) -> dict[str, Any]:
    """One tracked item of ``GET /subscriptions/{id}/items``."""
    items = api.ok(api.get(f"/subscriptions/{sub_id}/items"))["items"]
    (found,) = [i for i in items if i["key"] == key]
    return found


def current_quantity(api: Api, sub_id: str, key: str) -> str:
    current = item(api, sub_id, key)["current"]
    assert current is not None
    quantity: str = current["quantity"]
    return quantity
