"""Invoices: list filters, expand, one invoice, its history, and actions the state refuses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.api.helpers import closed_invoices, gathering, problem, setup_team, snapshot, subscribe
from tests.conftest import Api

LIFECYCLE_TO_PAID = [
    "gathering",
    "draft.created",
    "draft.outstanding",
    "draft.validating",
    "draft.syncing",
    "draft.waiting_auto_approval",
    "draft.ready_to_issue",
    "issuing.syncing",
    "issued",
    "payment_processing.pending",
    "paid",
]


def _two_customers(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    setup_team(api)
    api.ok(api.post("/customers", {"key": "globex", "name": "Globex", "currency": "EUR"}), 201)
    acme = subscribe(api, "acme")
    globex = subscribe(api, "globex")
    api.ok(api.post(f"/subscriptions/{globex['id']}/charges", {"chargeCode": "refund", "eachAmount": "-100.00"}), 201)
    api.advance(to="2026-04-30T12:00:00Z")
    return acme, globex


def _ids(body: dict[str, Any]) -> set[str]:
    assert body["totalCount"] == len(body["items"])
    return {i["id"] for i in body["items"]}


def test_list_filters(api: Api) -> None:
    acme, globex = _two_customers(api)
    acme_invoices = {i["id"] for i in closed_invoices(api, acme["id"])} | {gathering(api, acme["id"])["id"]}
    globex_invoices = {i["id"] for i in closed_invoices(api, globex["id"])} | {gathering(api, globex["id"])["id"]}
    everything = api.ok(api.get("/billing/invoices"))
    assert _ids(everything) == acme_invoices | globex_invoices and len(everything["items"]) == 6
    assert all(i.get("lines") is None for i in everything["items"])  # lines only with expand=lines

    acme_id = api.ok(api.get("/customers/acme"))["id"]
    assert _ids(api.ok(api.get("/billing/invoices?customers=acme"))) == acme_invoices
    assert _ids(api.ok(api.get(f"/billing/invoices?customers={acme_id}"))) == acme_invoices
    both = api.ok(api.get("/billing/invoices?customers=acme&customers=globex"))
    assert _ids(both) == acme_invoices | globex_invoices

    paid = api.ok(api.get("/billing/invoices?statuses=paid"))
    assert {i["status"] for i in paid["items"]} == {"paid"} and paid["totalCount"] == 3
    gathering_only = api.ok(api.get("/billing/invoices?statuses=gathering"))
    assert {i["subscriptionId"] for i in gathering_only["items"]} == {acme["id"], globex["id"]}
    drafts = api.ok(api.get("/billing/invoices?statuses=draft"))
    (stuck,) = drafts["items"]
    assert stuck["customer"]["key"] == "globex"
    invalid = api.ok(api.get("/billing/invoices?extendedStatuses=draft.invalid"))
    assert _ids(invalid) == {stuck["id"]}
    assert api.ok(api.get("/billing/invoices?extendedStatuses=draft.syncing"))["items"] == []
    mixed = api.ok(api.get("/billing/invoices?statuses=draft&statuses=gathering&customers=globex"))
    assert _ids(mixed) == {stuck["id"], gathering(api, globex["id"])["id"]}
    issued = api.ok(api.get("/billing/invoices?issuedAfter=2026-04-01T00:00:00Z"))
    assert {i["issuedAt"] for i in issued["items"]} == {"2026-04-30T12:00:00Z"}

    problem(api.get("/billing/invoices?statuses=pending"), 400, field="statuses")
    problem(api.get("/billing/invoices?extendedStatuses=draft.bogus"), 400, field="extendedStatuses")
    problem(api.get("/billing/invoices?expand=everything"), 400, field="expand[0]")
    problem(api.get("/billing/invoices?issuedAfter=yesterday"), 400, field="issuedAfter")


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def test_list_date_filters_order_and_deleted_as_openmeter_sends_them(api: Api) -> None:
    """periodStart…/created… bounds (after inclusive, before exclusive), orderBy/order, includeDeleted:
    the query parameters OpenMeter's SDK sends, each checked against the full list."""
    _two_customers(api)
    everything = api.ok(api.get("/billing/invoices"))["items"]
    assert len(everything) == 6
    created = sorted({_stamp(i["createdAt"]) for i in everything})
    starts = sorted({_stamp(i["period"]["from"]) for i in everything})
    assert len(created) > 1 and len(starts) > 1  # the filters below have something to tell apart

    def listed(query: str) -> list[dict[str, Any]]:
        body = api.ok(api.get(f"/billing/invoices?{query}"))
        assert body["totalCount"] == len(body["items"])
        return list(body["items"])

    def ids(items: list[dict[str, Any]]) -> set[str]:
        return {i["id"] for i in items}

    for cut in created[1:]:
        q = cut.isoformat().replace("+00:00", "Z")
        assert ids(listed(f"createdAfter={q}")) == {i["id"] for i in everything if _stamp(i["createdAt"]) >= cut}
        assert ids(listed(f"createdBefore={q}")) == {i["id"] for i in everything if _stamp(i["createdAt"]) < cut}
    for cut in starts[1:]:
        q = cut.isoformat().replace("+00:00", "Z")
        after = {i["id"] for i in everything if _stamp(i["period"]["from"]) >= cut}
        assert ids(listed(f"periodStartAfter={q}")) == after and after
        assert ids(listed(f"periodStartBefore={q}")) == ids(everything) - after
    # the default: newest first
    assert [i["id"] for i in everything] == [
        i["id"] for i in sorted(everything, key=lambda i: (i["createdAt"], i["id"]), reverse=True)
    ]
    by_name = listed("orderBy=customer.name")
    names = [i["customer"]["name"] for i in by_name]
    assert names == sorted(names) and names[0] == "Acme" and names[-1] == "Globex"
    assert [i["customer"]["name"] for i in listed("orderBy=customer.name&order=DESC")] == names[::-1]
    by_start = [_stamp(i["period"]["from"]) for i in listed("orderBy=periodStart&order=ASC")]
    assert by_start == sorted(by_start)
    issued = [i["issuedAt"] for i in listed("orderBy=issuedAt")]
    assert issued == sorted(x for x in issued if x) + [None] * issued.count(None)  # never issued: last
    assert [i["issuedAt"] for i in listed("orderBy=issuedAt&order=DESC")][-issued.count(None) :] == [None] * (
        issued.count(None)
    )
    oldest_first = listed("order=ASC")
    assert [_stamp(i["createdAt"]) for i in oldest_first] == sorted(_stamp(i["createdAt"]) for i in everything)

    (stuck,) = listed("statuses=draft")
    api.ok(api.delete(f"/billing/invoices/{stuck['id']}"), 204)
    assert stuck["id"] not in ids(listed(""))
    with_deleted = listed("includeDeleted=true")
    assert ids(with_deleted) == ids(everything)
    (gone,) = (i for i in with_deleted if i["id"] == stuck["id"])
    assert gone["statusDetails"]["extendedStatus"] == "deleted" and gone["deletedAt"]

    problem(api.get("/billing/invoices?orderBy=amount"), 400, field="orderBy")
    problem(api.get("/billing/invoices?order=sideways"), 400, field="order")
    problem(api.get("/billing/invoices?createdAfter=last-week"), 400, field="createdAfter")
    problem(api.get("/billing/invoices?includeDeleted=perhaps"), 400, field="includeDeleted")


def test_expand_lines_and_get_one(api: Api) -> None:
    _two_customers(api)
    expanded = api.ok(api.get("/billing/invoices?customers=acme&statuses=paid&expand=lines"))["items"]
    assert all(isinstance(i["lines"], list) and i["lines"] for i in expanded)
    for listed in expanded:
        one = api.ok(api.get(f"/billing/invoices/{listed['id']}"))
        assert one == listed
        assert one["type"] == "standard" and one["currency"] == "EUR"
        assert one["customer"]["key"] == "acme"
        assert one["statusDetails"] == {
            "immutable": True,
            "failed": False,
            "extendedStatus": "paid",
            "availableActions": {},
        }
        assert one["number"].startswith("INV-")
        assert one["dueAt"] == _days_after(one["issuedAt"], 30)
        line = one["lines"][0]
        for field in ("id", "name", "type", "managedBy", "period", "invoiceAt", "quantity", "totals"):
            assert field in line, field
        total = sum(float(x["totals"]["total"]) for x in one["lines"])
        assert f"{total:.2f}" == one["totals"]["total"]


def _days_after(stamp: str, days: int) -> str:
    from datetime import datetime, timedelta

    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(days=days)
    return moment.isoformat().replace("+00:00", "Z")


def test_history_lists_every_transition_to_paid(api: Api) -> None:
    acme, _ = _two_customers(api)
    for inv in closed_invoices(api, acme["id"]):
        history = api.ok(api.get(f"/billing/invoices/{inv['id']}/history"))["items"]
        assert [h["from"] for h in history] == LIFECYCLE_TO_PAID[:-1]
        assert [h["to"] for h in history] == LIFECYCLE_TO_PAID[1:]
        assert all(h["trigger"] for h in history)
        assert {h["trigger"] for h in history[1:]} == {"next"}
        assert all(h["actor"].startswith(("api_key:", "worker:")) for h in history)
        assert [h["at"] for h in history] == sorted(h["at"] for h in history)
        assert history[-1]["at"] == inv["issuedAt"]
    closing = closed_invoices(api, acme["id"])[-1]
    history = api.ok(api.get(f"/billing/invoices/{closing['id']}/history"))["items"]
    assert history[0]["at"] == "2026-04-30T12:00:00Z"
    assert history[0]["actor"].startswith("worker:")  # the period closed by itself
    assert api.ok(api.get(f"/billing/invoices/{gathering(api, acme['id'])['id']}/history"))["items"] == []


@pytest.mark.parametrize("action", ["void", "approve", "retry", "advance"])
def test_actions_on_a_paid_invoice_are_a_409(api: Api, action: str) -> None:
    acme, _ = _two_customers(api)
    paid = closed_invoices(api, acme["id"])[-1]
    history = api.ok(api.get(f"/billing/invoices/{paid['id']}/history"))
    body = problem(api.post(f"/billing/invoices/{paid['id']}/{action}"), 409, code="invalid_transition")
    assert action in body["detail"] and "paid" in body["detail"]
    assert "allowed: none" in body["detail"]
    assert api.ok(api.get(f"/billing/invoices/{paid['id']}")) == paid  # unchanged, lines and all
    assert api.ok(api.get(f"/billing/invoices/{paid['id']}/history")) == history
    problem(api.delete(f"/billing/invoices/{paid['id']}"), 409)


@pytest.mark.parametrize("action", ["void", "approve", "advance"])
def test_a_refused_action_names_the_allowed_ones(api: Api, action: str) -> None:
    _, globex = _two_customers(api)
    stuck = closed_invoices(api, globex["id"])[-1]
    assert stuck["statusDetails"]["extendedStatus"] == "draft.invalid"
    body = problem(api.post(f"/billing/invoices/{stuck['id']}/{action}"), 409, code="invalid_transition")
    allowed = body["detail"].split("allowed: ", 1)[1]
    assert {a.strip() for a in allowed.split(",")} >= {"retry", "delete"}
    assert api.ok(api.get(f"/billing/invoices/{stuck['id']}"))["statusDetails"]["extendedStatus"] == "draft.invalid"


def test_a_gathering_invoice_cannot_be_deleted(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    current = gathering(api, sub["id"])
    before = snapshot(api)
    problem(api.delete(f"/billing/invoices/{current['id']}"), 409)
    for action in ("void", "approve", "retry", "advance"):
        problem(api.post(f"/billing/invoices/{current['id']}/{action}"), 409)
    assert snapshot(api) == before
    assert gathering(api, sub["id"])["id"] == current["id"]


def test_deleting_a_stuck_draft(api: Api) -> None:
    _, globex = _two_customers(api)
    stuck = closed_invoices(api, globex["id"])[-1]
    assert api.delete(f"/billing/invoices/{stuck['id']}").status_code == 204
    gone = api.ok(api.get(f"/billing/invoices/{stuck['id']}"))
    # OpenMeter's InvoiceStatus has no "deleted": the status it was deleted from, the extended status and deletedAt
    assert (gone["status"], gone["statusDetails"]["extendedStatus"]) == ("draft", "deleted")
    assert gone["deletedAt"] is not None
    assert stuck["id"] not in _ids(api.ok(api.get("/billing/invoices")))
    assert _ids(api.ok(api.get("/billing/invoices?statuses=deleted"))) == {stuck["id"]}
    problem(api.delete(f"/billing/invoices/{stuck['id']}"), 409)
    problem(api.get(f"/subscriptions/{globex['id']}/outstanding-invoice"), 404)
    history = api.ok(api.get(f"/billing/invoices/{stuck['id']}/history"))["items"]
    assert (history[-1]["from"], history[-1]["to"], history[-1]["trigger"]) == ("draft.invalid", "deleted", "delete")
