"""Subscriptions: starting now or later, trials, billing anchors, and canceling."""

from __future__ import annotations

from tests.api.helpers import (
    all_invoices,
    closed_invoices,
    current_quantity,
    gathering,
    line_totals,
    lines,
    problem,
    setup_team,
    snapshot,
    subscribe,
    team_plan,
)
from tests.conftest import Api


def test_start_now_bills_the_first_period_in_advance(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    assert sub["status"] == "active"
    assert sub["planKey"] == "team"
    assert sub["customerId"] == api.ok(api.get("/customers/acme"))["id"]
    assert sub["startAt"] == sub["billingAnchor"] == "2026-03-30T12:00:00Z"
    assert sub["currentPeriod"] == {"from": "2026-03-30T12:00:00Z", "to": "2026-04-30T12:00:00Z"}
    assert sub["billingDatetime"] == "2026-04-30T12:00:00Z"
    assert api.ok(api.get(f"/subscriptions/{sub['id']}")) == sub
    (opening,) = closed_invoices(api, sub["id"])
    assert opening["status"] == "paid"
    assert opening["number"] == "INV-000001"
    assert line_totals(opening) == {"Team plan": "29.00"}
    assert lines(opening)["Team plan"]["period"] == sub["currentPeriod"]
    assert gathering(api, sub["id"])["period"] == sub["currentPeriod"]
    listed = api.ok(api.get("/subscriptions?customer=acme"))
    assert [s["id"] for s in listed["items"]] == [sub["id"]] and listed["totalCount"] == 1


def test_start_at_a_future_date_bills_nothing_until_then(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api, startAt="2026-04-10T00:00:00Z")
    assert sub["status"] == "active"
    assert sub["currentPeriod"] == {"from": "2026-04-10T00:00:00Z", "to": "2026-05-10T00:00:00Z"}
    assert closed_invoices(api, sub["id"]) == []
    api.advance(to="2026-04-09T23:59:59Z")
    assert closed_invoices(api, sub["id"]) == []
    api.advance(to="2026-04-10T00:00:00Z")
    (opening,) = closed_invoices(api, sub["id"])
    assert opening["status"] == "paid"
    assert opening["issuedAt"] == "2026-04-10T00:00:00Z"
    assert line_totals(opening) == {"Team plan": "29.00"}
    assert lines(opening)["Team plan"]["period"] == {"from": "2026-04-10T00:00:00Z", "to": "2026-05-10T00:00:00Z"}


def test_start_in_the_past_is_a_400(api: Api) -> None:
    setup_team(api)
    before = snapshot(api)
    for start in ("2026-03-01T00:00:00Z", "2026-03-30T11:00:00Z", "1969-12-31T00:00:00Z", "9999-01-01T00:00:00Z"):
        r = api.post("/subscriptions", {"customerId": "acme", "plan": "team", "startAt": start})
        problem(r, 400, field="startAt")
    assert snapshot(api) == before


def test_trial_bills_nothing_until_it_ends(api: Api) -> None:
    setup_team(api, plan=team_plan(trialPeriod="P14D"))
    sub = subscribe(api)
    assert sub["status"] == "trialing"
    assert sub["trialEnd"] == "2026-04-13T12:00:00Z"
    assert sub["currentPeriod"] == {"from": "2026-03-30T12:00:00Z", "to": "2026-04-13T12:00:00Z"}
    assert closed_invoices(api, sub["id"]) == []
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "100"}))
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "3"}))

    api.advance(to="2026-04-13T11:59:59Z")
    assert closed_invoices(api, sub["id"]) == []
    assert api.ok(api.get(f"/subscriptions/{sub['id']}"))["status"] == "trialing"

    api.advance(to="2026-04-13T12:00:00Z")
    sub = api.ok(api.get(f"/subscriptions/{sub['id']}"))
    assert sub["status"] == "active"
    assert sub["currentPeriod"] == {"from": "2026-04-13T12:00:00Z", "to": "2026-05-13T12:00:00Z"}
    (trial_end,) = closed_invoices(api, sub["id"])
    assert trial_end["status"] == "paid"
    assert trial_end["period"] == {"from": "2026-03-30T12:00:00Z", "to": "2026-04-13T12:00:00Z"}
    assert line_totals(trial_end) == {"Team plan": "29.00"}  # storage and seats used in the trial are free
    assert lines(trial_end)["Team plan"]["period"] == sub["currentPeriod"]
    assert current_quantity(api, sub["id"], "seats") == "3"  # licensed seats carry into the paid period
    assert current_quantity(api, sub["id"], "storage_gb") == "0"

    api.advance(to="2026-05-13T12:00:00Z")
    first_paid = closed_invoices(api, sub["id"])[-1]
    assert line_totals(first_paid) == {"Seats": "27.00", "Team plan": "29.00"}


def test_billing_anchor_prorates_the_first_period(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api, startAt="2026-04-10T00:00:00Z", billingAnchor="2026-04-01T00:00:00Z")
    assert sub["billingAnchor"] == "2026-04-01T00:00:00Z"
    assert sub["currentPeriod"] == {"from": "2026-04-10T00:00:00Z", "to": "2026-05-01T00:00:00Z"}
    api.advance(to="2026-04-10T00:00:00Z")
    (opening,) = closed_invoices(api, sub["id"])
    assert line_totals(opening) == {"Team plan": "20.30"}  # 29.00 × 21/30 days
    api.advance(to="2026-05-01T00:00:00Z")
    first_full = closed_invoices(api, sub["id"])[-1]
    assert first_full["period"] == {"from": "2026-04-10T00:00:00Z", "to": "2026-05-01T00:00:00Z"}
    assert line_totals(first_full) == {"Team plan": "29.00"}
    assert lines(first_full)["Team plan"]["period"] == {"from": "2026-05-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}


def test_cancel_at_end_of_period(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "30"}))
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "2"}))
    canceled = api.ok(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "end_of_period"}))
    assert canceled["status"] == "canceled"
    assert canceled["cancelAt"] == "2026-04-30T12:00:00Z"
    assert canceled["canceledAt"] == "2026-03-30T12:00:00Z"
    assert canceled["endedAt"] is None
    # asking again changes nothing
    assert api.ok(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "end_of_period"})) == canceled

    api.advance(to="2026-04-30T12:00:00Z")
    ended = api.ok(api.get(f"/subscriptions/{sub['id']}"))
    assert ended["status"] == "ended"
    assert ended["endedAt"] == "2026-04-30T12:00:00Z"
    assert ended["billingDatetime"] is None
    opening, final = closed_invoices(api, sub["id"])
    assert final["status"] == "paid"
    assert final["period"] == {"from": "2026-03-30T12:00:00Z", "to": "2026-04-30T12:00:00Z"}
    assert line_totals(final) == {"Storage (GB)": "5.00", "Seats": "18.00"}  # usage, but no new fee
    assert final["totals"]["total"] == "23.00"

    api.advance(to="2026-07-30T12:00:00Z")
    assert [i["id"] for i in all_invoices(api, sub["id"])] == [opening["id"], final["id"]]
    problem(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "immediate"}), 409, code="subscription_ended")
    problem(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "end_of_period"}), 409)
    problem(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "1"}), 409)
    problem(api.post(f"/subscriptions/{sub['id']}/charges", {"chargeCode": "x", "eachAmount": "1.00"}), 409)


def test_cancel_immediately_closes_the_period_now(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    api.advance(to="2026-04-15T12:00:00Z")
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "30"}))
    ended = api.ok(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "immediate"}))
    assert ended["status"] == "ended"
    assert ended["endedAt"] == ended["canceledAt"] == "2026-04-15T12:00:00Z"
    _, final = closed_invoices(api, sub["id"])
    assert final["status"] == "paid"
    assert final["period"] == {"from": "2026-03-30T12:00:00Z", "to": "2026-04-15T12:00:00Z"}
    assert line_totals(final) == {"Storage (GB)": "5.00"}
    api.advance(to="2026-06-15T12:00:00Z")
    assert len(all_invoices(api, sub["id"])) == 2
    problem(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "immediate"}), 409, code="subscription_ended")
    assert api.ok(api.get(f"/subscriptions/{sub['id']}")) == ended


def test_cancel_before_the_start_bills_nothing(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api, startAt="2026-05-01T00:00:00Z")
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "4"}))
    ended = api.ok(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "immediate"}))
    assert ended["status"] == "ended"
    api.advance(to="2026-06-01T00:00:00Z")
    assert closed_invoices(api, sub["id"]) == []


def test_cancel_with_a_bad_timing_is_a_400(api: Api) -> None:
    setup_team(api)
    sub = subscribe(api)
    problem(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "tomorrow"}), 400, field="timing")
    assert api.ok(api.get(f"/subscriptions/{sub['id']}"))["status"] == "active"
