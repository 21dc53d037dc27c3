"""API conventions: problem+json naming the bad field, auth, namespaces, pagination, idempotency.

Every bad request must change nothing: each test compares the namespace's resource counts before
and after.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.helpers import (
    closed_invoices,
    problem,
    setup_team,
    snapshot,
    subscribe,
    team_plan,
)
from tests.conftest import CLOCK_START, Api, new_key

# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/customers", {"name": 5}, "name"),
        ("/customers", {"name": "Acme", "currency": 978}, "currency"),
        ("/customers", {"name": "Acme", "metadata": ["a"]}, "metadata"),
        ("/plans", team_plan(billingCadence=1), "billingCadence"),
        ("/plans", team_plan(items="seats"), "items"),
        ("/plans", team_plan(charges=[{"key": "base", "price": "29.00"}]), "charges[0].price"),
        ("/subscriptions", {"customerId": ["acme"], "plan": "team"}, "customerId"),
        ("/subscriptions", {"customerId": "acme", "plan": "team", "startAt": "tomorrow"}, "startAt"),
        ("/subscriptions", {"customerId": "acme", "plan": "team", "startAt": "2026-04-10T00:00:00"}, "startAt"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(api: Api, path: str, body: dict[str, Any], field: str) -> None:
    setup_team(api)
    before = snapshot(api)
    problem(api.post(path, body), 400, field=field, code="invalid_input")
    assert snapshot(api) == before


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("/customers", {}, ["name"]),
        ("/plans", {"name": "Team"}, ["key", "currency"]),
        ("/subscriptions", {"plan": "team"}, ["customerId"]),
        ("/subscriptions", {"customerId": "acme"}, ["plan"]),
        ("/plans", team_plan(items=[{"key": "x", "name": "X"}]), ["items[0].price"]),
    ],
)
def test_missing_fields_are_each_named(api: Api, path: str, body: dict[str, Any], fields: list[str]) -> None:
    setup_team(api)
    before = snapshot(api)
    for field in fields:
        problem(api.post(path, body), 400, field=field)
    assert snapshot(api) == before


def test_unknown_currency_is_refused(api: Api) -> None:
    setup_team(api)
    before = snapshot(api)
    problem(api.post("/customers", {"name": "Zed", "currency": "ZZZ"}), 400, field="currency")
    problem(api.post("/plans", team_plan(key="zzz", currency="ZZZ")), 400, field="currency")
    problem(api.put("/customers/acme", {"key": "acme", "name": "Acme", "currency": "ZZZ"}), 400, field="currency")
    problem(api.put("/plans/team", team_plan(currency="ZZZ")), 400, field="currency")
    assert snapshot(api) == before
    assert api.ok(api.get("/customers/acme"))["currency"] == "EUR"
    assert api.ok(api.get("/plans/team"))["currency"] == "EUR"


def test_float_amounts_are_refused(api: Api) -> None:
    """Money is a decimal string; a JSON number is a 400 on the field, never silently accepted."""
    setup_team(api)
    sub = subscribe(api)
    before = snapshot(api)
    charge = {"key": "base", "name": "Base", "price": {"type": "flat", "amount": 29.0}}
    problem(api.post("/plans", team_plan(key="floaty", charges=[charge])), 400, field="charges[0].price.amount")
    item = {"key": "gb", "name": "GB", "price": {"type": "unit", "amount": 0.25}}
    problem(api.post("/plans", team_plan(key="floaty", items=[item])), 400, field="items[0].price.amount")
    body = {"chargeCode": "setup", "eachAmount": 12.5}
    problem(api.post(f"/subscriptions/{sub['id']}/charges", body), 400, field="eachAmount")
    body = {"quantity": 57.5}
    problem(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", body), 400, field="quantity")
    assert snapshot(api) == before
    assert api.ok(api.get(f"/subscriptions/{sub['id']}/charges"))["items"] == []


@pytest.mark.parametrize("quantity", ["1.00001", "-1", "-0.5", "abc", "", "1e3", "NaN"])
def test_bad_quantities_are_a_400_on_quantity(api: Api, quantity: str) -> None:
    setup_team(api)
    sub = subscribe(api)
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "3"}))
    before = snapshot(api)
    for method, path in (
        ("PUT", "/items/seats/quantity"),
        ("POST", "/items/seats/quantity/add"),
        ("POST", "/items/seats/quantity/remove"),
    ):
        r = api.request(method, f"/subscriptions/{sub['id']}{path}", json={"quantity": quantity})
        problem(r, 400, field="quantity")
    assert snapshot(api) == before
    items = {i["key"]: i["current"]["quantity"] for i in api.ok(api.get(f"/subscriptions/{sub['id']}/items"))["items"]}
    assert items == {"seats": "3", "storage_gb": "0"}


def test_unknown_customer_or_plan_in_the_body_is_a_400_naming_it(api: Api) -> None:
    setup_team(api)
    before = snapshot(api)
    problem(api.post("/subscriptions", {"customerId": "nobody", "plan": "team"}), 400, field="customerId")
    problem(api.post("/subscriptions", {"customerId": "acme", "plan": "no-plan"}), 400, field="plan")
    problem(api.get("/billing/invoices?customers=nobody"), 400, field="customers")
    assert snapshot(api) == before


def test_unknown_path_ids_are_404(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    before = snapshot(api)
    missing = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    calls = [
        ("GET", f"/customers/{missing}", None),
        ("PUT", f"/customers/{missing}", {"name": "X"}),
        ("DELETE", f"/customers/{missing}", None),
        ("GET", f"/plans/{missing}", None),
        ("PUT", f"/plans/{missing}", team_plan()),
        ("GET", f"/subscriptions/{missing}", None),
        ("POST", f"/subscriptions/{missing}/cancel", {"timing": "immediate"}),
        ("GET", f"/subscriptions/{missing}/items", None),
        ("PUT", f"/subscriptions/{missing}/items/seats/quantity", {"quantity": "1"}),
        ("POST", f"/subscriptions/{missing}/charges", {"chargeCode": "x", "eachAmount": "1.00"}),
        ("GET", f"/subscriptions/{missing}/charges", None),
        ("GET", f"/subscriptions/{missing}/outstanding-invoice", None),
        ("DELETE", f"/subscriptions/{sub['id']}/charges/{missing}", None),
        ("GET", f"/billing/invoices/{missing}", None),
        ("GET", f"/billing/invoices/{missing}/history", None),
        ("POST", f"/billing/invoices/{missing}/void", None),
        ("DELETE", f"/billing/invoices/{missing}", None),
    ]
    for method, path, body in calls:
        kw = {"json": body} if body is not None else {}
        problem(api.request(method, path, **kw), 404, code="not_found")
    assert snapshot(api) == before


def test_plan_in_another_currency_than_the_customer_is_a_400_on_plan(api: Api) -> None:
    setup_team(api)
    api.ok(api.post("/plans", team_plan(key="team-usd", currency="USD")), 201)
    before = snapshot(api)
    body = problem(api.post("/subscriptions", {"customerId": "acme", "plan": "team-usd"}), 400, field="plan")
    assert "USD" in body["detail"] and "EUR" in body["detail"]
    assert snapshot(api) == before
    assert api.ok(api.get("/customers/acme"))["currency"] == "EUR"


def test_invalid_json_body_is_a_400(api: Api) -> None:
    before = snapshot(api)
    headers = {"content-type": "application/json"}
    for raw in (b'{"name": "Acme",', b"not json", b'{"name": "Acme"} trailing'):
        body = problem(api.request("POST", "/customers", content=raw, headers=headers), 400, code="invalid_input")
        assert [e["field"] for e in body["errors"]] == ["body"]
    problem(api.post("/customers", [1, 2]), 400, field="body")
    assert snapshot(api) == before


def test_missing_or_invalid_api_key_is_401(api: Api) -> None:
    before = snapshot(api)
    client = api.client
    for headers in ({}, {"Authorization": "Bearer bh_not-a-key"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        for method, path in (("GET", "/customers"), ("POST", "/customers"), ("GET", "/test-clock")):
            kw: dict[str, Any] = {"json": {"name": "Sneaky"}} if method == "POST" else {}
            r = client.request(method, "/api/v1" + path, headers=headers, **kw)
            problem(r, 401, code="unauthorized")
            assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    # an Idempotency-Key does not get an unauthenticated request any further
    r = client.post(
        "/api/v1/customers", json={"name": "Sneaky"}, headers={"Authorization": "Bearer nope", "Idempotency-Key": "k"}
    )
    problem(r, 401)
    assert snapshot(api) == before
    # health stays open
    assert client.get("/healthz").status_code == 200


def test_a_new_key_works_at_once_and_a_revoked_one_stops_within_the_trust_window(
    api: Api, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server remembers keys it found valid for a moment (Principals), never unknown ones."""
    from sqlalchemy import update

    from billhook.api.context import Principals
    from billhook.store.schema import api_keys

    monkeypatch.setattr(Principals, "TRUST_SECONDS", 0.3)
    unknown = {"Authorization": "Bearer bh_made-later"}
    problem(api.client.get("/api/v1/customers", headers=unknown), 401)
    fresh = Api(api.client, new_key(runtime))
    api.ok(fresh.get("/customers"))  # refused a moment ago as unknown: that was not remembered
    with runtime.uows.write() as uow:  # revoked behind the server's back (another process, an operator)
        uow.conn.execute(update(api_keys).values(revoked_at=CLOCK_START))
    time.sleep(0.4)
    problem(fresh.get("/customers"), 401, code="unauthorized")
    problem(api.get("/customers"), 401, code="unauthorized")


# ------------------------------------------------------------------------------------ namespaces


def test_another_namespace_sees_nothing(api: Api, runtime: Any) -> None:
    setup_team(api)
    sub = subscribe(api)
    customer = api.ok(api.get("/customers/acme"))
    plan = api.ok(api.get("/plans/team"))
    (invoice,) = closed_invoices(api, sub["id"])
    other = Api(api.client, new_key(runtime, "other"))

    for path in (
        f"/customers/{customer['id']}",
        "/customers/acme",
        f"/plans/{plan['id']}",
        "/plans/team",
        f"/subscriptions/{sub['id']}",
        f"/subscriptions/{sub['id']}/items",
        f"/subscriptions/{sub['id']}/charges",
        f"/billing/invoices/{invoice['id']}",
        f"/billing/invoices/{invoice['id']}/history",
    ):
        problem(other.get(path), 404)
    problem(other.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "immediate"}), 404)
    problem(other.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "5"}), 404)
    problem(other.post(f"/billing/invoices/{invoice['id']}/void"), 404)
    problem(other.delete(f"/customers/{customer['id']}"), 404)
    problem(other.post("/subscriptions", {"customerId": customer["id"], "plan": plan["id"]}), 400, field="customerId")
    for path in ("/customers", "/plans", "/subscriptions", "/billing/invoices"):
        assert other.ok(other.get(path)) == {"items": [], "page": 1, "pageSize": 100, "totalCount": 0}

    # nothing the other namespace tried touched the first one
    assert api.ok(api.get(f"/subscriptions/{sub['id']}"))["status"] == "active"
    assert api.ok(api.get(f"/billing/invoices/{invoice['id']}"))["status"] == "paid"
    assert api.ok(api.get(f"/subscriptions/{sub['id']}/items"))["items"][1]["current"]["quantity"] == "0"
    # and keys are per namespace: the other one may use the same ones
    other.ok(other.post("/customers", {"key": "acme", "name": "Other Acme", "currency": "EUR"}), 201)
    other.ok(other.post("/plans", team_plan()), 201)
    assert api.ok(api.get("/customers/acme"))["name"] == "Acme"
    assert api.ok(api.get("/customers"))["totalCount"] == 1


# ------------------------------------------------------------------------------------ pagination


def test_customers_are_paged(api: Api) -> None:
    created = {api.ok(api.post("/customers", {"key": f"c{i}", "name": f"C{i}"}), 201)["id"] for i in range(5)}
    seen: list[str] = []
    for page, size in ((1, 2), (2, 2), (3, 1)):
        body = api.ok(api.get(f"/customers?page={page}&pageSize=2"))
        assert (body["page"], body["pageSize"], body["totalCount"]) == (page, 2, 5)
        assert len(body["items"]) == size
        seen += [c["id"] for c in body["items"]]
    assert len(seen) == 5 and set(seen) == created
    beyond = api.ok(api.get("/customers?page=4&pageSize=2"))
    assert beyond["items"] == [] and beyond["totalCount"] == 5
    default = api.ok(api.get("/customers"))
    assert (default["page"], default["pageSize"], len(default["items"])) == (1, 100, 5)


def test_invoices_are_paged(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    api.advance(to="2026-05-30T12:00:00Z")  # opening invoice, two closed periods, one gathering
    everything = api.ok(api.get("/billing/invoices"))
    assert everything["totalCount"] == 4
    seen = []
    for page in (1, 2, 3, 4):
        body = api.ok(api.get(f"/billing/invoices?page={page}&pageSize=1"))
        assert (body["page"], body["pageSize"], body["totalCount"]) == (page, 1, 4)
        assert len(body["items"]) == 1
        seen.append(body["items"][0]["id"])
    assert seen == [i["id"] for i in everything["items"]]
    assert api.ok(api.get("/billing/invoices?page=2&pageSize=3"))["items"] == everything["items"][3:]
    assert sub["id"] == everything["items"][0]["subscriptionId"]


@pytest.mark.parametrize("path", ["/customers", "/billing/invoices", "/plans", "/subscriptions"])
def test_page_size_out_of_range_is_a_400(api: Api, path: str) -> None:
    problem(api.get(f"{path}?pageSize=0"), 400, field="pageSize")
    problem(api.get(f"{path}?pageSize=1001"), 400, field="pageSize")
    problem(api.get(f"{path}?pageSize=ten"), 400, field="pageSize")
    problem(api.get(f"{path}?page=0"), 400, field="page")
    assert api.ok(api.get(f"{path}?pageSize=1000"))["pageSize"] == 1000


# ------------------------------------------------------------------------------------ idempotency


def test_same_idempotency_key_and_body_returns_the_first_response(api: Api) -> None:
    body = {"key": "acme", "name": "Acme", "currency": "EUR"}
    first = api.post("/customers", body, headers={"Idempotency-Key": "create-acme"})
    api.advance(by="PT1M")  # a retry later gets the stored answer, not a new resource
    again = api.post("/customers", body, headers={"Idempotency-Key": "create-acme"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    assert api.ok(api.get("/customers"))["totalCount"] == 1


def test_same_idempotency_key_with_another_body_is_a_422(api: Api) -> None:
    api.ok(api.post("/customers", {"name": "Acme"}, headers={"Idempotency-Key": "k-1"}), 201)
    before = snapshot(api)
    r = api.post("/customers", {"name": "Globex"}, headers={"Idempotency-Key": "k-1"})
    problem(r, 422, field="Idempotency-Key")
    assert snapshot(api) == before
    assert [c["name"] for c in api.ok(api.get("/customers"))["items"]] == ["Acme"]


def test_without_idempotency_key_a_retry_creates_twice(api: Api) -> None:
    first = api.ok(api.post("/customers", {"name": "Acme"}), 201)
    second = api.ok(api.post("/customers", {"name": "Acme"}), 201)
    assert first["id"] != second["id"]
    assert api.ok(api.get("/customers"))["totalCount"] == 2


def test_idempotency_keys_belong_to_their_api_key(api: Api, runtime: Any) -> None:
    other = Api(api.client, new_key(runtime, "other"))
    mine = api.ok(api.post("/customers", {"name": "Acme"}, headers={"Idempotency-Key": "shared"}), 201)
    theirs = other.ok(other.post("/customers", {"name": "Acme"}, headers={"Idempotency-Key": "shared"}), 201)
    assert mine["id"] != theirs["id"]
    assert api.ok(api.get("/customers"))["totalCount"] == 1
    assert other.ok(other.get("/customers"))["totalCount"] == 1


def test_a_failed_request_replays_its_problem(api: Api) -> None:
    bad = {"name": "Zed", "currency": "ZZZ"}
    first = problem(api.post("/customers", bad, headers={"Idempotency-Key": "bad"}), 400, field="currency")
    again = problem(api.post("/customers", bad, headers={"Idempotency-Key": "bad"}), 400, field="currency")
    assert again == first
    assert api.ok(api.get("/customers"))["totalCount"] == 0


# ------------------------------------------------------------------------------------ test clock


def test_test_clock_reads_and_moves_forward_only(api: Api) -> None:
    assert api.ok(api.get("/test-clock"))["now"] == "2026-03-30T12:00:00Z"
    assert CLOCK_START.isoformat().startswith("2026-03-30T12:00:00")
    assert api.advance(by="P1M")["now"] == "2026-04-30T12:00:00Z"
    assert api.ok(api.get("/test-clock"))["now"] == "2026-04-30T12:00:00Z"
    assert api.advance(to="2026-05-01T00:00:00+02:00")["now"] == "2026-04-30T22:00:00Z"

    problem(api.post("/test-clock/advance", {"to": "2026-04-01T00:00:00Z"}), 400, field="to")
    problem(api.post("/test-clock/advance", {}), 400)
    problem(api.post("/test-clock/advance", {"to": "2026-06-01T00:00:00Z", "by": "P1D"}), 400)
    problem(api.post("/test-clock/advance", {"by": "P1X"}), 400, field="by")
    problem(api.post("/test-clock/advance", {"by": "1M"}), 400, field="by")
    problem(api.post("/test-clock/advance", {"by": "P99999Y"}), 400, field="by")
    problem(api.post("/test-clock/advance", {"to": "2026-06-01T00:00:00"}), 400, field="to")
    assert api.ok(api.get("/test-clock"))["now"] == "2026-04-30T22:00:00Z"


def test_nul_characters_are_refused_naming_the_field(api: Api) -> None:
    """PostgreSQL cannot store NUL: every lane refuses it up front, naming where it was."""
    before = api.ok(api.get("/customers"))["totalCount"]
    r = api.post("/customers", {"name": "Acme\x00Ltd", "metadata": {"k": "v"}})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"field": "name", "message": "must not contain NUL characters"}]
    r = api.post("/subscriptions", {"customerId": "x\x00", "plan": "team"})
    assert r.json()["errors"][0]["field"] == "customerId"
    assert api.get("/customers/acme%00").status_code == 400
    assert api.get("/customers?page=1&includeDeleted=%00").status_code == 400
    assert api.ok(api.get("/customers"))["totalCount"] == before


def test_dashboard_assets_are_served_whole(api: Api) -> None:
    """Request guards that read the body first must not cut streamed responses short."""
    script = api.client.get("/static/app.js")
    assert script.status_code == 200
    assert "data-confirm" in script.text
    assert "chart" in api.client.get("/static/style.css").text
