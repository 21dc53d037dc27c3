"""The worked example of the billing core, through the API, on both storage lanes."""

from __future__ import annotations

from typing import Any

from tests.conftest import TEAM_PLAN, Api


def _period_invoices(api: Api, sub_id: str) -> list[dict[str, Any]]:
    items = api.ok(api.get(f"/billing/invoices?subscription={sub_id}&expand=lines&pageSize=100"))["items"]
    return sorted((i for i in items if i["status"] != "gathering"), key=lambda i: (i["period"]["from"], i["number"]))


def test_team_plan_two_months(api: Api) -> None:
    api.ok(api.post("/plans", TEAM_PLAN), 201)
    api.ok(api.post("/customers", {"key": "acme", "name": "Acme", "currency": "EUR"}), 201)
    body = {"customerId": "acme", "plan": "team", "startAt": "2026-03-31T00:00:00Z"}
    sub = api.ok(api.post("/subscriptions", body), 201)
    api.advance(to="2026-03-31T00:00:00Z")
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "57.5"}))
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "12"}))

    api.advance(to="2026-04-30T00:00:00Z")
    opening, april = _period_invoices(api, sub["id"])
    assert opening["totals"]["total"] == "29.00"
    assert opening["status"] == "paid"
    assert april["status"] == "paid"
    assert april["period"] == {"from": "2026-03-31T00:00:00Z", "to": "2026-04-30T00:00:00Z"}
    lines = {line["name"]: line for line in april["lines"]}
    assert lines["Storage (GB)"]["quantity"] == "57.5"
    assert lines["Storage (GB)"]["totals"]["total"] == "11.88"  # 47.5 × 0.25 = 11.875, half-even
    assert lines["Seats"]["totals"]["total"] == "90.00"  # 12 × 7.50, volume tier
    assert lines["Team plan"]["totals"]["total"] == "29.00"
    assert lines["Team plan"]["period"] == {"from": "2026-04-30T00:00:00Z", "to": "2026-05-31T00:00:00Z"}
    assert april["totals"]["total"] == "130.88"

    api.advance(to="2026-05-31T00:00:00Z")
    may = _period_invoices(api, sub["id"])[-1]
    assert may["period"] == {"from": "2026-04-30T00:00:00Z", "to": "2026-05-31T00:00:00Z"}
    assert {line["name"]: line["totals"]["total"] for line in may["lines"]} == {"Seats": "90.00", "Team plan": "29.00"}
    assert may["totals"]["total"] == "119.00"
    assert [i["number"] for i in _period_invoices(api, sub["id"])] == ["INV-000001", "INV-000002", "INV-000003"]
