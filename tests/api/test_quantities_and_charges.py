"""Tracked item quantities and custom charges/credits, on the current or the outstanding invoice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import (
    closed_invoices,
    current_quantity,
    gathering,
    item,
    line_totals,
    lines,
    problem,
    setup_team,
    snapshot,
    subscribe,
    team_plan,
)
from tests.conftest import Api


def _q(api: Api, sub_id: str, key: str, op: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    if op == "set":
        result: dict[str, Any] = api.ok(api.put(f"/subscriptions/{sub_id}/items/{key}/quantity", body))
    else:
        result = api.ok(api.post(f"/subscriptions/{sub_id}/items/{key}/quantity/{op}", body or {}))
    return result


def test_set_add_remove(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    sid = sub["id"]
    first = _q(api, sid, "seats", "add")  # default 1
    assert first["quantity"] == "1"
    assert first["itemKey"] == "seats" and first["invoicePeriod"] == "current"
    assert first["period"] == sub["currentPeriod"]
    assert first["invoiceId"] == gathering(api, sid)["id"]
    assert _q(api, sid, "seats", "add", {"quantity": "2.5"})["quantity"] == "3.5"
    assert _q(api, sid, "seats", "remove")["quantity"] == "2.5"
    assert _q(api, sid, "seats", "set", {"quantity": "0.1234"})["quantity"] == "0.1234"
    assert _q(api, sid, "seats", "add", {"quantity": "10.0001"})["quantity"] == "10.1235"
    assert _q(api, sid, "seats", "remove", {"quantity": "0.1235"})["quantity"] == "10"
    assert current_quantity(api, sid, "seats") == "10"
    assert _q(api, sid, "seats", "remove", {"quantity": "10"})["quantity"] == "0"
    assert current_quantity(api, sid, "seats") == "0"
    seats = item(api, sid, "seats")
    assert (seats["name"], seats["usageType"], seats["includedQuantity"]) == ("Seats", "licensed", "0")
    assert seats["outstanding"] is None


def test_removing_below_zero_is_a_409_and_changes_nothing(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    _q(api, sid, "storage_gb", "set", {"quantity": "2.5"})
    body = problem(api.post(f"/subscriptions/{sid}/items/storage_gb/quantity/remove", {"quantity": "2.5001"}), 409)
    assert body["type"].endswith("quantity_below_zero")
    problem(api.post(f"/subscriptions/{sid}/items/seats/quantity/remove", {}), 409)
    assert current_quantity(api, sid, "storage_gb") == "2.5"
    assert current_quantity(api, sid, "seats") == "0"


def test_unknown_item_is_a_404(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    problem(api.put(f"/subscriptions/{sid}/items/gpu_hours/quantity", {"quantity": "1"}), 404)
    problem(api.post(f"/subscriptions/{sid}/items/gpu_hours/quantity/add", {}), 404)
    problem(api.post(f"/subscriptions/{sid}/items/gpu_hours/quantity/remove", {}), 404)
    assert [i["key"] for i in api.ok(api.get(f"/subscriptions/{sid}/items"))["items"]] == ["storage_gb", "seats"]


def test_metered_resets_each_period_and_licensed_carries_over(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    _q(api, sid, "storage_gb", "set", {"quantity": "57.5"})
    _q(api, sid, "seats", "set", {"quantity": "12"})
    preview = gathering(api, sid)
    assert line_totals(preview) == {"Storage (GB)": "11.88", "Seats": "90.00"}  # what would be billed now

    api.advance(to="2026-04-30T12:00:00Z")
    april = closed_invoices(api, sid)[-1]
    assert line_totals(april) == {"Storage (GB)": "11.88", "Seats": "90.00", "Team plan": "29.00"}
    assert lines(april)["Storage (GB)"]["quantity"] == "57.5"
    assert current_quantity(api, sid, "storage_gb") == "0"
    assert current_quantity(api, sid, "seats") == "12"
    may_period = {"from": "2026-04-30T12:00:00Z", "to": "2026-05-30T12:00:00Z"}
    assert item(api, sid, "seats")["current"]["period"] == may_period

    _q(api, sid, "seats", "add", {"quantity": "1"})
    api.advance(to="2026-05-30T12:00:00Z")
    may = closed_invoices(api, sid)[-1]
    assert line_totals(may) == {"Seats": "97.50", "Team plan": "29.00"}  # 13 × 7.50; no storage used
    assert current_quantity(api, sid, "seats") == "13"


def test_included_quantity_is_free(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    _q(api, sid, "storage_gb", "set", {"quantity": "10"})
    api.advance(to="2026-04-30T12:00:00Z")
    april = closed_invoices(api, sid)[-1]
    assert lines(april)["Storage (GB)"]["quantity"] == "10"
    assert line_totals(april)["Storage (GB)"] == "0.00"


def test_outstanding_without_an_outstanding_invoice_is_a_409(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    before = snapshot(api)
    body = {"quantity": "5", "invoicePeriod": "outstanding"}
    problem(api.put(f"/subscriptions/{sid}/items/seats/quantity", body), 409, code="no-outstanding-invoice")
    problem(api.post(f"/subscriptions/{sid}/items/seats/quantity/add", body), 409, code="no-outstanding-invoice")
    charge = {"chargeCode": "setup", "eachAmount": "10.00", "invoicePeriod": "outstanding"}
    problem(api.post(f"/subscriptions/{sid}/charges", charge), 409, code="no-outstanding-invoice")
    problem(api.get(f"/subscriptions/{sid}/outstanding-invoice"), 404)
    assert snapshot(api) == before
    assert current_quantity(api, sid, "seats") == "0"

    # once the period's invoice is paid it can no longer change
    api.advance(to="2026-04-30T12:00:00Z")
    paid = closed_invoices(api, sid)[-1]
    assert paid["status"] == "paid"
    problem(api.put(f"/subscriptions/{sid}/items/seats/quantity", body), 409, code="no-outstanding-invoice")
    problem(api.post(f"/subscriptions/{sid}/charges", charge), 409, code="no-outstanding-invoice")
    # named exactly, it is refused with its status
    named = {"quantity": "5", "invoiceId": paid["id"]}
    refused = problem(api.put(f"/subscriptions/{sid}/items/seats/quantity", named), 409, code="invoice-not-held")
    assert "paid" in refused["detail"]
    assert api.ok(api.get(f"/billing/invoices/{paid['id']}")) == paid  # unchanged, lines and all
    assert api.ok(api.get(f"/subscriptions/{sid}/charges"))["items"] == []


def test_custom_charges_and_credits_land_on_the_next_invoice(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    setup = api.ok(
        api.post(
            f"/subscriptions/{sid}/charges",
            {"chargeCode": "setup", "quantity": 3, "eachAmount": "12.50", "description": "Onboarding"},
        ),
        201,
    )
    assert (setup["quantity"], setup["eachAmount"], setup["amount"]) == (3, "12.50", "37.50")
    assert setup["invoicePeriod"] == "current" and setup["invoiceId"] == gathering(api, sid)["id"]
    credit = api.ok(api.post(f"/subscriptions/{sid}/charges", {"chargeCode": "goodwill", "eachAmount": "-5.00"}), 201)
    assert (credit["quantity"], credit["amount"]) == (1, "-5.00")
    dropped = api.ok(api.post(f"/subscriptions/{sid}/charges", {"chargeCode": "oops", "eachAmount": "99.00"}), 201)
    listed = api.ok(api.get(f"/subscriptions/{sid}/charges"))["items"]
    assert [c["id"] for c in listed] == [setup["id"], credit["id"], dropped["id"]]
    assert api.ok(api.get(f"/subscriptions/{sid}/charges?invoicePeriod=current"))["items"] == listed
    assert api.ok(api.get(f"/subscriptions/{sid}/charges?invoicePeriod=outstanding"))["items"] == []

    r = api.delete(f"/subscriptions/{sid}/charges/{dropped['id']}")
    assert r.status_code == 204
    problem(api.delete(f"/subscriptions/{sid}/charges/{dropped['id']}"), 404)
    assert [c["id"] for c in api.ok(api.get(f"/subscriptions/{sid}/charges"))["items"]] == [setup["id"], credit["id"]]
    assert line_totals(gathering(api, sid)) == {"Onboarding": "37.50", "goodwill": "-5.00"}

    api.advance(to="2026-04-30T12:00:00Z")
    april = closed_invoices(api, sid)[-1]
    assert april["status"] == "paid"
    assert line_totals(april) == {"Onboarding": "37.50", "goodwill": "-5.00", "Team plan": "29.00"}
    assert lines(april)["Onboarding"]["quantity"] == "3"
    assert april["totals"]["total"] == "61.50"
    assert april["totals"]["creditsTotal"] == "5.00"
    assert {c["invoicePeriod"] for c in api.ok(api.get(f"/subscriptions/{sid}/charges"))["items"]} == {"invoiced"}
    assert api.ok(api.get(f"/subscriptions/{sid}/charges?invoicePeriod=outstanding"))["items"] == []
    # a charge on a paid invoice cannot be deleted
    problem(api.delete(f"/subscriptions/{sid}/charges/{setup['id']}"), 409, code="invoice-immutable")
    assert line_totals(gathering(api, sid)) == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"chargeCode": "x", "eachAmount": "1.00", "quantity": 0}, "quantity"),
        ({"chargeCode": "x", "eachAmount": "1.00", "quantity": -2}, "quantity"),
        ({"chargeCode": "x", "eachAmount": "1.00", "quantity": 1.5}, "quantity"),
        ({"chargeCode": "x", "eachAmount": "1.00", "quantity": "two"}, "quantity"),
        ({"chargeCode": "x", "eachAmount": "1.00", "quantity": 10_000_000}, "quantity"),
        ({"chargeCode": "x", "eachAmount": "1.001"}, "eachAmount"),
        ({"chargeCode": "x", "eachAmount": "0"}, "eachAmount"),
        ({"chargeCode": "x", "eachAmount": "ten"}, "eachAmount"),
        ({"chargeCode": "x", "eachAmount": 1.5}, "eachAmount"),
        ({"chargeCode": "x"}, "eachAmount"),
        ({"eachAmount": "1.00"}, "chargeCode"),
        ({"chargeCode": "", "eachAmount": "1.00"}, "chargeCode"),
        # any other value than outstanding is the current period (the seed's rule), but not of any length
        ({"chargeCode": "x", "eachAmount": "1.00", "invoicePeriod": "o" * 65}, "invoicePeriod"),
    ],
)
def test_bad_custom_charges_are_a_400(api: Api, body: dict[str, Any], field: str) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    problem(api.post(f"/subscriptions/{sid}/charges", body), 400, field=field)
    assert api.ok(api.get(f"/subscriptions/{sid}/charges"))["items"] == []
    assert line_totals(gathering(api, sid)) == {}


def _charge(api: Api, sub_id: str, each: str, **extra: Any) -> Any:
    return api.post(f"/subscriptions/{sub_id}/charges", {"chargeCode": "x", "eachAmount": each, **extra})


def test_each_amount_follows_the_currency_minor_unit(api: Api) -> None:
    api.ok(api.post("/plans", team_plan(key="yen", currency="JPY", charges=[], items=[])), 201)
    api.ok(api.post("/plans", team_plan(key="dinar", currency="KWD", charges=[], items=[])), 201)
    api.ok(api.post("/customers", {"key": "tokyo", "name": "Tokyo", "currency": "JPY"}), 201)
    api.ok(api.post("/customers", {"key": "kuwait", "name": "Kuwait", "currency": "KWD"}), 201)
    yen = subscribe(api, "tokyo", "yen")["id"]
    dinar = subscribe(api, "kuwait", "dinar")["id"]
    problem(_charge(api, yen, "100.5"), 400, field="eachAmount")  # JPY has no minor unit
    problem(_charge(api, dinar, "1.0005"), 400, field="eachAmount")  # KWD has three places
    assert api.ok(_charge(api, yen, "100"), 201)["amount"] == "100"
    assert api.ok(_charge(api, dinar, "1.125", quantity=2), 201)["amount"] == "2.250"
    api.advance(to="2026-04-30T12:00:00Z")
    assert closed_invoices(api, yen)[-1]["totals"]["total"] == "100"
    assert closed_invoices(api, dinar)[-1]["totals"]["total"] == "2.250"


def test_credits_exceeding_charges_stop_the_invoice_in_draft_invalid(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    api.ok(api.post(f"/subscriptions/{sid}/charges", {"chargeCode": "setup", "eachAmount": "10.00"}), 201)
    credit = api.ok(api.post(f"/subscriptions/{sid}/charges", {"chargeCode": "refund", "eachAmount": "-50.00"}), 201)
    api.advance(to="2026-04-30T12:00:00Z")

    stuck = closed_invoices(api, sid)[-1]
    assert stuck["status"] == "draft"
    assert stuck["statusDetails"]["extendedStatus"] == "draft.invalid"
    assert stuck["statusDetails"]["failed"] is True and stuck["statusDetails"]["immutable"] is False
    assert stuck["totals"]["total"] == "-11.00"  # 10.00 - 50.00 + the next period's 29.00
    (issue,) = stuck["validationIssues"]
    assert (issue["code"], issue["severity"]) == ("negative_total", "critical")
    assert stuck["issuedAt"] is None and stuck["number"].startswith("DRAFT-")
    assert set(stuck["statusDetails"]["availableActions"]) == {"retry", "delete"}
    assert api.ok(api.get(f"/subscriptions/{sid}/outstanding-invoice"))["id"] == stuck["id"]
    assert item(api, sid, "seats")["outstanding"]["invoiceId"] == stuck["id"]

    # retrying without a fix lands in the same place
    retried = api.ok(api.post(f"/billing/invoices/{stuck['id']}/retry"))
    assert retried["statusDetails"]["extendedStatus"] == "draft.invalid"
    # the stuck draft can be edited through invoicePeriod=outstanding; deleting the credit fixes it
    assert api.delete(f"/subscriptions/{sid}/charges/{credit['id']}").status_code == 204
    fixed = api.ok(api.get(f"/billing/invoices/{stuck['id']}"))
    assert fixed["status"] == "paid"
    assert fixed["validationIssues"] == []
    assert line_totals(fixed) == {"setup": "10.00", "Team plan": "29.00"}
    assert fixed["totals"]["total"] == "39.00"
    problem(api.get(f"/subscriptions/{sid}/outstanding-invoice"), 404)


def test_outstanding_edits_recalculate_a_stuck_draft(api: Api) -> None:
    setup_team(api)
    sid = subscribe(api)["id"]
    api.ok(api.post(f"/subscriptions/{sid}/charges", {"chargeCode": "refund", "eachAmount": "-40.00"}), 201)
    _q(api, sid, "storage_gb", "set", {"quantity": "12"})
    api.advance(to="2026-04-30T12:00:00Z")
    stuck = closed_invoices(api, sid)[-1]
    assert stuck["statusDetails"]["extendedStatus"] == "draft.invalid"
    assert stuck["totals"]["total"] == "-10.50"  # 2 × 0.25 - 40.00 + 29.00

    # more storage on the outstanding invoice: still negative, still invalid, totals recalculated
    changed = _q(api, sid, "storage_gb", "set", {"quantity": "30", "invoicePeriod": "outstanding"})
    assert changed["invoicePeriod"] == "outstanding" and changed["invoiceId"] == stuck["id"]
    again = api.ok(api.get(f"/billing/invoices/{stuck['id']}"))
    assert again["statusDetails"]["extendedStatus"] == "draft.invalid"
    assert again["totals"]["total"] == "-6.00"
    assert item(api, sid, "storage_gb")["outstanding"]["quantity"] == "30"
    assert current_quantity(api, sid, "storage_gb") == "0"  # the current period is untouched

    # a charge on the outstanding invoice makes it whole: it moves on by itself
    api.ok(_charge(api, sid, "6.00", chargeCode="fee", invoicePeriod="outstanding"), 201)
    done = api.ok(api.get(f"/billing/invoices/{stuck['id']}"))
    assert done["status"] == "paid"
    assert done["totals"]["total"] == "0.00"
    assert line_totals(done) == {"Storage (GB)": "5.00", "refund": "-40.00", "fee": "6.00", "Team plan": "29.00"}


def test_huge_amounts_do_not_break_invoicing(api: Api) -> None:
    """The largest price times the largest quantity still gives an invoice, not a server error."""
    big = {"key": "big", "name": "Big", "price": {"type": "unit", "amount": "999999999999999999"}}
    setup_team(api, plan=team_plan(items=[big]))
    sid = subscribe(api)["id"]
    _q(api, sid, "big", "set", {"quantity": "999999999999999"})
    api.ok(_charge(api, sid, "999999999999999999", quantity=1_000_000), 201)
    assert gathering(api, sid)["totals"]["total"].endswith(".00")
    api.advance(to="2026-04-30T12:00:00Z")
    closing = closed_invoices(api, sid)[-1]
    assert closing["status"] == "paid"
    assert line_totals(closing)["x"] == "999999999999999999000000.00"
