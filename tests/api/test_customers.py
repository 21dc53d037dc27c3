"""Customers: create, read by id or key, replace, delete; conflicts a user can run into."""

from __future__ import annotations

from tests.api.helpers import problem, setup_team, snapshot, subscribe
from tests.conftest import Api

ACME = {
    "key": "acme",
    "name": "Acme Inc.",
    "description": "Rockets",
    "primaryEmail": "billing@acme.test",
    "currency": "EUR",
    "billingAddress": {"country": "DE", "city": "Berlin", "line1": "Hauptstr. 1", "postalCode": "10115"},
    "metadata": {"crm": "42"},
}


def test_create_and_get_by_id_and_by_key(api: Api) -> None:
    created = api.ok(api.post("/customers", ACME), 201)
    assert created["id"] and created["id"] != "acme"
    for field in ("key", "name", "description", "primaryEmail", "currency", "metadata"):
        assert created[field] == ACME[field], field
    assert created["billingAddress"]["city"] == "Berlin"
    assert created["createdAt"] == created["updatedAt"] == "2026-03-30T12:00:00Z"
    assert api.ok(api.get(f"/customers/{created['id']}")) == created
    assert api.ok(api.get("/customers/acme")) == created
    listed = api.ok(api.get("/customers"))
    assert listed["items"] == [created] and listed["totalCount"] == 1


def test_a_customer_without_key_or_currency(api: Api) -> None:
    created = api.ok(api.post("/customers", {"name": "Walk-in"}), 201)
    assert created["key"] is None and created["currency"] is None
    assert api.ok(api.get(f"/customers/{created['id']}"))["name"] == "Walk-in"


def test_put_replaces_the_customer(api: Api) -> None:
    created = api.ok(api.post("/customers", ACME), 201)
    api.advance(by="PT1H")
    replacement = {"key": "acme", "name": "Acme GmbH", "currency": "USD", "metadata": {"tier": "gold"}}
    updated = api.ok(api.put("/customers/acme", replacement))
    assert updated["id"] == created["id"]
    assert (updated["name"], updated["currency"], updated["metadata"]) == ("Acme GmbH", "USD", {"tier": "gold"})
    assert updated["description"] is None and updated["primaryEmail"] is None  # replaced, not merged
    assert updated["createdAt"] == created["createdAt"]
    assert updated["updatedAt"] == "2026-03-30T13:00:00Z"
    assert api.ok(api.get(f"/customers/{created['id']}")) == updated
    # a new key moves the lookup
    renamed = api.ok(api.put(f"/customers/{created['id']}", {**replacement, "key": "acme-gmbh"}))
    assert renamed["key"] == "acme-gmbh"
    assert api.ok(api.get("/customers/acme-gmbh"))["id"] == created["id"]
    problem(api.get("/customers/acme"), 404)


def test_put_with_bad_input_changes_nothing(api: Api) -> None:
    created = api.ok(api.post("/customers", ACME), 201)
    problem(api.put("/customers/acme", {"key": "acme"}), 400, field="name")
    problem(api.put("/customers/acme", {**ACME, "currency": "ZZZ"}), 400, field="currency")
    problem(api.put("/customers/acme", {**ACME, "primaryEmail": 7}), 400, field="primaryEmail")
    assert api.ok(api.get("/customers/acme")) == created


def test_delete_then_404(api: Api) -> None:
    created = api.ok(api.post("/customers", ACME), 201)
    other = api.ok(api.post("/customers", {"key": "globex", "name": "Globex"}), 201)
    r = api.delete("/customers/acme")
    assert r.status_code == 204 and r.content == b""
    problem(api.get("/customers/acme"), 404)
    problem(api.get(f"/customers/{created['id']}"), 404)
    problem(api.put("/customers/acme", ACME), 404)
    problem(api.delete(f"/customers/{created['id']}"), 404)
    assert [c["id"] for c in api.ok(api.get("/customers"))["items"]] == [other["id"]]
    with_deleted = api.ok(api.get("/customers?includeDeleted=true"))["items"]
    gone = next(c for c in with_deleted if c["id"] == created["id"])
    assert gone["deletedAt"] == "2026-03-30T12:00:00Z"


def test_duplicate_key_is_a_409(api: Api) -> None:
    api.ok(api.post("/customers", ACME), 201)
    globex = api.ok(api.post("/customers", {"key": "globex", "name": "Globex"}), 201)
    before = snapshot(api)
    problem(api.post("/customers", {**ACME, "name": "Acme again"}), 409, code="customer_key_taken")
    problem(api.put("/customers/globex", {"key": "acme", "name": "Globex"}), 409, code="customer_key_taken")
    assert snapshot(api) == before
    assert api.ok(api.get("/customers/acme"))["name"] == "Acme Inc."
    assert api.ok(api.get("/customers/globex")) == globex


def test_cannot_delete_a_customer_with_a_running_subscription(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    problem(api.delete("/customers/acme"), 409, code="customer_has_subscriptions")
    assert api.ok(api.get("/customers/acme"))["key"] == "acme"
    api.ok(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "end_of_period"}))
    problem(api.delete("/customers/acme"), 409)  # canceled, but its last period still runs
    api.ok(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "immediate"}))
    assert api.ok(api.get(f"/subscriptions/{sub['id']}"))["status"] == "ended"
    assert api.delete("/customers/acme").status_code == 204
    problem(api.get("/customers/acme"), 404)
    problem(api.post("/subscriptions", {"customerId": "acme", "plan": "team"}), 400, field="customerId")


def test_currency_of_a_customer_with_subscriptions_is_locked(api: Api) -> None:
    setup_team(api)
    subscribe(api)
    problem(api.put("/customers/acme", {"key": "acme", "name": "Acme", "currency": "USD"}), 409)
    assert api.ok(api.get("/customers/acme"))["currency"] == "EUR"
    renamed = api.ok(api.put("/customers/acme", {"key": "acme", "name": "Acme Two", "currency": "EUR"}))
    assert renamed["name"] == "Acme Two"


def test_a_customer_without_currency_takes_the_plans(api: Api) -> None:
    api.ok(api.post("/plans", {"key": "basic", "name": "Basic", "currency": "USD"}), 201)
    api.ok(api.post("/customers", {"key": "walk-in", "name": "Walk-in"}), 201)
    subscribe(api, "walk-in", "basic")
    assert api.ok(api.get("/customers/walk-in"))["currency"] == "USD"
