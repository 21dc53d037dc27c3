"""The test clock steps: one advance lives through every instant something falls due, each processed at
its own time (a failing listener's whole retry schedule, a period's close at its own end), and every
namespace has a clock of its own. Real listener, real database, both lanes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from billhook.events.transport import RETRY_DELAYS
from tests.api.helpers import closed_invoices
from tests.conftest import CLOCK_START, Api, new_key
from tests.webhooks.helpers import deliveries, endpoint, now, team_subscription
from tests.webhooks.listener import Listener

BILLABLE = "subscription.billable"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _history(api: Api, invoice_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.ok(api.get(f"/billing/invoices/{invoice_id}/history"))["items"]
    return items


def test_one_month_advance_lives_through_a_failing_listeners_whole_retry_schedule(api: Api, listener: Listener) -> None:
    endpoint(api, listener, "billing", [BILLABLE])
    sub = team_subscription(api)  # from 2026-03-31: its first period ends on 2026-04-30
    api.advance(to="2026-04-29T00:00:00Z")
    listener.answer(500)

    state = api.advance(by="P1M")  # one advance, waited for

    assert (state["now"], state["advancingTo"], state["namespace"]) == ("2026-05-29T00:00:00Z", None, "default")
    period_end = datetime.fromisoformat("2026-04-30T00:00:00+00:00")
    (delivery,) = deliveries(api)
    got = api.ok(api.get(f"/webhooks/deliveries/{delivery['id']}"))
    assert (got["status"], got["attemptCount"]) == ("failed", len(RETRY_DELAYS) + 1)
    scheduled = [period_end + sum(RETRY_DELAYS[:i], timedelta()) for i in range(len(RETRY_DELAYS) + 1)]
    assert [a["at"] for a in got["attempts"]] == [_iso(t) for t in scheduled]  # each at its scheduled time
    assert {a["statusCode"] for a in got["attempts"]} == {500}
    received = listener.received("billing", BILLABLE)
    assert len(received) == len(RETRY_DELAYS) + 1
    assert len({r.webhook_id for r in received}) == 1  # every attempt the same message
    (april,) = [i for i in closed_invoices(api, sub["id"]) if i["issuedAt"] is None]  # (the opening one is paid)
    assert april["period"]["to"] == _iso(period_end)
    assert april["statusDetails"]["extendedStatus"] == "draft.outstanding"  # the default profile: hold
    (issue,) = [i for i in april["validationIssues"] if i["code"] == "billable_hook_failed"]
    assert issue["createdAt"] == _iso(scheduled[-1])  # when the last attempt failed


def test_a_three_month_advance_closes_each_period_at_its_own_end(api: Api) -> None:
    sub = team_subscription(api, start=None)  # from the clock's time, 2026-03-30T12:00

    state = api.advance(by="P3M")

    assert state["now"] == "2026-06-30T12:00:00Z"
    ends = ["2026-04-30T12:00:00Z", "2026-05-30T12:00:00Z", "2026-06-30T12:00:00Z"]
    opening = _iso(CLOCK_START)  # the opening invoice (the first period's base fee, in advance) is issued at once
    closed = [i for i in closed_invoices(api, sub["id"]) if i["issuedAt"] != opening]
    assert sorted(i["period"]["to"] for i in closed) == ends
    for inv in closed:
        history = _history(api, inv["id"])
        assert (history[0]["from"], history[0]["to"], history[0]["at"]) == (
            "gathering",
            "draft.created",
            inv["period"]["to"],
        )
        assert {h["at"] for h in history} == {inv["period"]["to"]}  # it went on to paid at that instant too
        assert (inv["status"], inv["issuedAt"]) == ("paid", inv["period"]["to"])
        assert inv["createdAt"] == inv["period"]["from"]  # made (gathering) when its period opened


def test_every_namespace_has_a_clock_of_its_own(runtime: Any, api: Api) -> None:
    other = Api(api.client, new_key(runtime, "other"))
    mine = team_subscription(api, start=None)
    theirs = team_subscription(other, start=None)
    assert other.ok(other.get("/test-clock")) == {
        "namespace": "other",
        "now": _iso(CLOCK_START),
        "advancingTo": None,
        "enabled": True,
        "pending": None,
    }

    assert api.advance(by="P1M")["now"] == "2026-04-30T12:00:00Z"

    assert now(api) == "2026-04-30T12:00:00Z"
    assert now(other) == _iso(CLOCK_START)  # untouched
    assert len(closed_invoices(api, mine["id"])) == 2  # the opening invoice and April's
    assert len(closed_invoices(other, theirs["id"])) == 1  # its period has not ended on its clock

    assert other.advance(to="2026-04-15T00:00:00Z")["now"] == "2026-04-15T00:00:00Z"
    assert len(closed_invoices(other, theirs["id"])) == 1
    assert now(api) == "2026-04-30T12:00:00Z"
    assert other.advance(to="2026-05-01T00:00:00Z")["namespace"] == "other"
    (_, april) = closed_invoices(other, theirs["id"])
    assert (april["status"], april["issuedAt"]) == ("paid", "2026-04-30T12:00:00Z")  # at its own period end
    assert _history(other, april["id"])[0]["at"] == "2026-04-30T12:00:00Z"
    assert now(api) == "2026-04-30T12:00:00Z"  # and the first one's stayed where it was
    assert len(closed_invoices(api, mine["id"])) == 2


def test_a_year_over_daily_subscriptions_is_walked_day_by_day_in_bounded_memory(api: Api) -> None:
    """P1Y over daily subscriptions: 365 steps, each period closed and paid at its own end; what the walk
    holds does not grow with the number of steps (it runs in this process: the API's drainer walks)."""
    import tracemalloc

    daily = {
        "key": "daily",
        "name": "Daily",
        "currency": "EUR",
        "billingCadence": "P1D",
        "charges": [{"key": "base", "name": "Day pass", "price": {"type": "flat", "amount": "1.00"}}],
        "items": [{"key": "calls", "name": "Calls", "price": {"type": "unit", "amount": "0.01"}}],
    }
    api.ok(api.post("/plans", daily), 201)
    subs = []
    for key in ("day-a", "day-b"):
        api.ok(api.post("/customers", {"key": key, "name": key, "currency": "EUR"}), 201)
        subs.append(api.ok(api.post("/subscriptions", {"customerId": key, "plan": "daily"}), 201)["id"])
    tracemalloc.start()
    try:
        api.advance(by="P1M")  # the first month: what the walk's first steps leave allocated
        after_a_month, _ = tracemalloc.get_traced_memory()
        state = api.advance(by="P11M")
        after_a_year, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert state["now"] == "2027-03-30T12:00:00Z" and state.get("advancingTo") is None
    for sid in subs:
        closed = [i for i in closed_invoices(api, sid) if i["period"]["to"] != i["period"]["from"]]
        periods = [i for i in closed if i["issuedAt"] == i["period"]["to"]]
        assert len(periods) == 365, len(periods)
        assert {i["status"] for i in closed} == {"paid"}
    assert after_a_year - after_a_month < 8_000_000, (after_a_month, after_a_year)  # 11 months more: no growth
