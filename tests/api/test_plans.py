"""Plans: every price type, keys, bad price fields named, and replacing a plan in use."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.helpers import closed_invoices, line_totals, lines, problem, setup_team, snapshot, subscribe, team_plan
from tests.conftest import TEAM_PLAN, Api

EVERY_PRICE: dict[str, Any] = {
    "key": "every",
    "name": "Every price",
    "description": "one of each",
    "currency": "USD",
    "billingCadence": "P1M",
    "charges": [
        {"key": "base", "name": "Base fee", "price": {"type": "flat", "amount": "10.00"}},
        {"key": "support", "name": "Support", "price": {"type": "flat", "amount": "5.00", "paymentTerm": "in_arrears"}},
    ],
    "items": [
        {
            "key": "calls",
            "name": "API calls",
            "includedQuantity": "100",
            "price": {"type": "unit", "amount": "0.01", "minimumAmount": "1.00"},
        },
        {
            "key": "events",
            "name": "Events",
            "price": {
                "type": "tiered",
                "mode": "graduated",
                "tiers": [
                    {"upToAmount": "10", "flatPrice": {"amount": "2.00"}, "unitPrice": {"amount": "1.00"}},
                    {"unitPrice": {"amount": "0.50"}},
                ],
            },
        },
        {
            "key": "seats",
            "name": "Seats",
            "usageType": "licensed",
            "price": {
                "type": "tiered",
                "mode": "volume",
                "tiers": [{"upToAmount": "10", "unitPrice": {"amount": "2.00"}}, {"unitPrice": {"amount": "1.00"}}],
            },
        },
        {
            "key": "sms",
            "name": "SMS packs",
            "price": {"type": "package", "amount": "3.00", "quantityPerPackage": "5", "maximumAmount": "10.00"},
        },
    ],
}


def test_create_a_plan_with_every_price_type(api: Api) -> None:
    plan = api.ok(api.post("/plans", EVERY_PRICE), 201)
    assert [plan[f] for f in ("key", "name", "currency", "billingCadence")] == ["every", "Every price", "USD", "P1M"]
    assert plan["trialPeriod"] is None
    charges = {c["key"]: c["price"] for c in plan["charges"]}
    assert charges["base"]["type"] == "flat" and charges["base"]["paymentTerm"] == "in_advance"
    assert charges["support"]["paymentTerm"] == "in_arrears"
    items = {i["key"]: i for i in plan["items"]}
    assert [i["key"] for i in plan["items"]] == ["calls", "events", "seats", "sms"]
    assert items["calls"]["usageType"] == "metered" and items["calls"]["includedQuantity"] == "100"
    assert items["seats"]["usageType"] == "licensed" and items["seats"]["includedQuantity"] == "0"
    assert items["events"]["price"]["mode"] == "graduated" and len(items["events"]["price"]["tiers"]) == 2
    assert items["seats"]["price"]["mode"] == "volume"
    assert items["sms"]["price"]["type"] == "package"
    assert api.ok(api.get(f"/plans/{plan['id']}")) == plan
    assert api.ok(api.get("/plans/every")) == plan
    assert api.ok(api.get("/plans"))["items"] == [plan]


def test_every_price_type_bills_to_the_cent(api: Api) -> None:
    api.ok(api.post("/plans", EVERY_PRICE), 201)
    api.ok(api.post("/customers", {"key": "us", "name": "US Co"}), 201)
    sub = subscribe(api, "us", "every")
    for key, quantity in (("calls", "150"), ("events", "12"), ("seats", "12"), ("sms", "26")):
        api.ok(api.put(f"/subscriptions/{sub['id']}/items/{key}/quantity", {"quantity": quantity}))
    api.advance(by="P1M")
    opening, closing = closed_invoices(api, sub["id"])
    assert line_totals(opening) == {"Base fee": "10.00"}
    assert line_totals(closing) == {
        "Support": "5.00",  # in arrears, for the period that ended
        "API calls": "1.00",  # (150 - 100 included) × 0.01 = 0.50, raised to the minimum
        "Events": "13.00",  # 10 × 1.00 + 2.00 flat, then 2 × 0.50
        "Seats": "12.00",  # 12 seats all at the second tier's 1.00
        "SMS packs": "10.00",  # 6 packs × 3.00 = 18.00, capped at the maximum
        "Base fee": "10.00",  # in advance, for the next period
    }
    assert closing["totals"]["total"] == "51.00"
    assert lines(closing)["API calls"]["quantity"] == "150"
    assert lines(closing)["Base fee"]["period"] == {"from": "2026-04-30T12:00:00Z", "to": "2026-05-30T12:00:00Z"}


def test_duplicate_plan_key_is_a_409(api: Api) -> None:
    first = api.ok(api.post("/plans", TEAM_PLAN), 201)
    before = snapshot(api)
    problem(api.post("/plans", team_plan(name="Team again")), 409, code="plan_key_taken")
    assert snapshot(api) == before
    assert api.ok(api.get("/plans/team")) == first


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    plan = copy.deepcopy(TEAM_PLAN)
    target: Any = plan
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return plan


TIERS = ["items", 1, "price", "tiers"]


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        (_with([*TIERS, 0, "upToAmount"], "ten"), "items[1].price.tiers[0].upToAmount"),
        (_with([*TIERS, 0, "upToAmount"], "10.00001"), "items[1].price.tiers[0].upToAmount"),
        (_with([*TIERS, 0, "upToAmount"], 10), "items[1].price.tiers[0].upToAmount"),
        (_with([*TIERS, 0, "unitPrice", "amount"], "9.123456789"), "items[1].price.tiers[0].unitPrice.amount"),
        (_with([*TIERS, 1, "upToAmount"], "5"), "items[1].price.tiers[1].upToAmount"),
        (_with([*TIERS, 0], {"upToAmount": "10"}), "items[1].price.tiers[0]"),
        (_with(TIERS, []), "items[1].price.tiers"),
        (_with([*TIERS[:-1], "mode"], "stairs"), "items[1].price.mode"),
        (_with(["items", 0, "price", "amount"], "-0.25"), "items[0].price.amount"),
        (_with(["items", 0, "price", "amount"], "1e3"), "items[0].price.amount"),
        (_with(["items", 0, "includedQuantity"], "1.00001"), "items[0].includedQuantity"),
        (_with(["items", 0, "usageType"], "sometimes"), "items[0].usageType"),
        (_with(["items", 0, "price"], {"type": "package", "amount": "1", "quantityPerPackage": "0"}), None),
        (
            _with(["items", 0, "price"], {"type": "unit", "amount": "1", "minimumAmount": "5", "maximumAmount": "1"}),
            None,
        ),
        (_with(["charges", 0, "price", "type"], "unit"), "charges[0].price.type"),
        (_with(["charges", 0, "price", "paymentTerm"], "whenever"), "charges[0].price.paymentTerm"),
        (_with(["items", 1, "key"], "storage_gb"), "items[1].key"),
        (_with(["billingCadence"], "P2M"), "billingCadence"),
        (_with(["trialPeriod"], "two weeks"), "trialPeriod"),
        (_with(["trialPeriod"], "P99999Y"), "trialPeriod"),
        (_with(["key"], "has space"), "key"),
        (_with(["currency"], "eur"), "currency"),
    ],
)
def test_bad_plan_fields_are_named(api: Api, plan: dict[str, Any], field: str | None) -> None:
    if field is None:  # the field is inside items[0].price; which one is the server's choice
        body = problem(api.post("/plans", plan), 400)
        assert all(e["field"].startswith("items[0].price.") for e in body["errors"]), body
    else:
        problem(api.post("/plans", plan), 400, field=field)
    assert api.ok(api.get("/plans"))["totalCount"] == 0
    if field == "key":
        return
    # the same body on PUT of an existing plan changes nothing either
    api.ok(api.post("/plans", TEAM_PLAN), 201)
    before = api.ok(api.get("/plans/team"))
    problem(api.put("/plans/team", plan), 400)
    assert api.ok(api.get("/plans/team")) == before


def test_replacing_a_plans_prices_bills_the_next_invoice_by_them(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "30"}))
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "2"}))
    new = copy.deepcopy(TEAM_PLAN)
    new["name"] = "Team 2026"
    new["charges"][0]["price"]["amount"] = "35.00"
    new["items"][0]["price"]["amount"] = "0.50"
    new["items"][1]["price"]["tiers"][0]["unitPrice"]["amount"] = "8.00"
    updated = api.ok(api.put("/plans/team", new))
    assert updated["id"] == api.ok(api.get("/plans/team"))["id"]
    assert updated["name"] == "Team 2026" and updated["charges"][0]["price"]["amount"] in ("35", "35.00")

    api.advance(to="2026-04-30T12:00:00Z")
    opening, april = closed_invoices(api, sub["id"])
    assert opening["totals"]["total"] == "29.00"  # issued before the change: never rewritten
    assert line_totals(april) == {
        "Storage (GB)": "10.00",  # (30 - 10) × 0.50
        "Seats": "16.00",  # 2 × 8.00
        "Team plan": "35.00",  # the next period in advance, at the new fee
    }
    assert april["totals"]["total"] == "61.00"


def test_plan_currency_or_cadence_cannot_change_while_in_use(api: Api) -> None:
    setup_team(api)
    before = api.ok(api.get("/plans/team"))
    subscribe(api)
    problem(api.put("/plans/team", team_plan(currency="USD")), 409, code="plan_in_use")
    problem(api.put("/plans/team", team_plan(billingCadence="P1W")), 409, code="plan_in_use")
    assert api.ok(api.get("/plans/team")) == before
    # a plan nobody uses may change currency
    api.ok(api.post("/plans", team_plan(key="spare")), 201)
    assert api.ok(api.put("/plans/spare", team_plan(key="spare", currency="USD")))["currency"] == "USD"


def test_trial_of_zero_is_no_trial(api: Api) -> None:
    plan = api.ok(api.post("/plans", team_plan(trialPeriod="P0D")), 201)
    assert plan["trialPeriod"] is None
