"""Delivering events: every catalog type, the retry schedule on the test clock, 410, Retry-After, giving up,
redelivery, and the attempts a user can read back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billhook.events.catalog import CATALOG
from billhook.events.transport import RETRY_DELAYS
from billhook.receiver import InvalidWebhook, verify
from tests.billing.helpers import bill, create_profile, customer, install, pin, set_hooks
from tests.conftest import Api
from tests.sdk.strict import check
from tests.webhooks.helpers import PERIOD_END, SUB_START, deliveries, endpoint, flush, now, team_subscription
from tests.webhooks.listener import Listener, verified

INVOICE_EVENTS = ("invoice.created", "invoice.updated", "invoice.paid", "invoice.overdue")


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(delta: timedelta) -> str:
    return f"PT{int(delta.total_seconds())}S"


def _delivery(api: Api, delivery_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(api.get(f"/webhooks/deliveries/{delivery_id}"))
    return found


def test_requests_are_signed_per_standard_webhooks(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "signed", ["subscription.created"])
    sub = team_subscription(api)
    flush(api)
    (request,) = listener.received("signed")
    event = verified(ep["secret"], request)
    assert set(event) == {"id", "type", "timestamp", "data"}
    assert (event["type"], event["data"]["id"], event["timestamp"]) == ("subscription.created", sub["id"], now(api))
    (delivery,) = deliveries(api)
    assert request.webhook_id == event["id"] == delivery["eventId"]
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"].startswith("application/json")
    # the signature's timestamp is wall-clock time (the test clock is months away from it)
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now().timestamp()) < 300

    secret = ep["secret"]
    tampered = request.body.replace(sub["id"].encode(), b"01J0000000000000000000000X")
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, request.headers)
    with pytest.raises(InvalidWebhook):
        verify(secret, request.headers, tampered)

    # a genuine signature over a stale timestamp: replayed ten minutes later
    stale = datetime.now().astimezone() - timedelta(minutes=10)
    replay = request.headers | {
        "webhook-timestamp": str(int(stale.timestamp())),
        "webhook-signature": Webhook(secret).sign(request.webhook_id, stale, request.body.decode()),
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body, replay)
    with pytest.raises(InvalidWebhook):
        verify(secret, replay, request.body)
    # the timestamp moved without re-signing; headers missing; another secret
    moved = request.headers | {"webhook-timestamp": str(int(request.headers["webhook-timestamp"]) + 1)}
    with pytest.raises(InvalidWebhook):
        verify(secret, moved, request.body)
    with pytest.raises(InvalidWebhook):
        verify(secret, {"content-type": "application/json"}, request.body)
    with pytest.raises(InvalidWebhook):
        verify(endpoint(api, listener, "other")["secret"], request.headers, request.body)


def test_every_catalog_type_reaches_a_catch_all_endpoint(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "all")
    sub = team_subscription(api)
    api.advance(to=SUB_START)
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "57.5"}))
    api.advance(to=PERIOD_END)  # the period invoice is held for the billable hook, then runs after the grace
    api.advance(by="PT1H")
    api.ok(api.post(f"/subscriptions/{sub['id']}/cancel", {"timing": "end_of_period"}))

    # an invoice paid through a custom invoicing app is not settled by itself: it goes overdue
    app = install(api)
    set_hooks(api, app)
    profile = create_profile(api, app["id"], name="ERP")
    erp = customer(api, "erp")
    pin(api, erp["id"], profile["id"])
    unpaid = bill(api, erp["id"])
    assert unpaid["statusDetails"]["extendedStatus"] == "payment_processing.pending"
    api.advance(by="P31D")

    received = listener.received("all")
    events = [verified(ep["secret"], r) for r in received]
    assert {e["type"] for e in events} == set(CATALOG)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was delivered twice although every attempt succeeded"
    logged = api.ok(api.get("/events?pageSize=1000"))["items"]
    assert sorted(ids) == sorted(e["id"] for e in logged)
    assert all(d["status"] == "succeeded" and d["attemptCount"] == 1 for d in deliveries(api))

    invoices = {i["id"]: i for i in api.ok(api.get("/billing/invoices?pageSize=1000&expand=lines"))["items"]}
    for event in events:
        assert set(event) == {"id", "type", "timestamp", "data"}
        data = event["data"]
        if event["type"] in INVOICE_EVENTS:
            assert check("Invoice", data) == [], (event["type"], check("Invoice", data))
            if data["statusDetails"]["extendedStatus"] == "deleted":
                continue  # the canceled subscription's next gathering invoice, dropped (deleted ones are not listed)
            assert data["id"] in invoices and data["lines"], event["type"]
            assert data["currency"] == invoices[data["id"]]["currency"] == "EUR"
        elif event["type"] == "subscription.billable":
            assert set(data) == {"subscription", "customer", "invoice"}
            assert (data["subscription"]["id"], data["customer"]["key"]) == (sub["id"], "acme")
            assert check("Invoice", data["invoice"]) == []
            assert data["invoice"]["statusDetails"]["extendedStatus"] == "draft.outstanding"
        else:
            assert data["id"] == sub["id"]
    (overdue,) = [e for e in events if e["type"] == "invoice.overdue"]
    assert (overdue["data"]["id"], overdue["data"]["status"]) == (unpaid["id"], "overdue")
    (canceled,) = [e for e in events if e["type"] == "subscription.canceled"]
    assert canceled["data"]["id"] == sub["id"]
    paid = {e["data"]["id"]: e["data"] for e in events if e["type"] == "invoice.paid"}
    assert len(paid) == 2  # the opening invoice and April's
    for invoice_id, data in paid.items():
        assert data == invoices[invoice_id]  # paid is final: the event carries the invoice as it stays


def test_retries_follow_the_schedule_with_the_same_webhook_id(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "flaky", ["subscription.created"])
    listener.down()
    team_subscription(api)
    start = _at(now(api))
    flush(api)
    (d,) = deliveries(api)
    assert (d["status"], d["attemptCount"], d["nextAttemptAt"]) == ("pending", 1, _iso(start + RETRY_DELAYS[0]))
    (refused,) = d["attempts"]
    assert refused["statusCode"] is None and refused["error"] and refused["at"] == _iso(start)

    api.advance(by=_seconds(RETRY_DELAYS[0] - timedelta(seconds=1)))
    assert _delivery(api, d["id"])["attemptCount"] == 1  # not due yet
    listener.up()
    listener.answer(500, body="database on fire")
    api.advance(by="PT1S")  # 5 s after the first attempt
    d = _delivery(api, d["id"])
    assert (d["status"], d["attemptCount"]) == ("pending", 2)
    assert d["attempts"][1]["statusCode"] == 500
    assert d["attempts"][1]["responseExcerpt"] == "database on fire"
    assert d["attempts"][1]["latencyMs"] >= 0 and d["attempts"][1]["error"] is None
    assert d["nextAttemptAt"] == _iso(start + RETRY_DELAYS[0] + RETRY_DELAYS[1])

    listener.down()
    api.advance(by=_seconds(RETRY_DELAYS[1]))  # 5 min later: refused again
    listener.up()
    listener.answer(200)
    api.advance(by=_seconds(RETRY_DELAYS[2] - timedelta(seconds=1)))
    assert _delivery(api, d["id"])["attemptCount"] == 3
    api.advance(by="PT1S")  # 30 min later: back
    d = _delivery(api, d["id"])
    assert (d["status"], d["attemptCount"], d["nextAttemptAt"]) == ("succeeded", 4, None)
    offsets = [RETRY_DELAYS[0], RETRY_DELAYS[0] + RETRY_DELAYS[1], sum(RETRY_DELAYS[:3], timedelta())]
    assert [a["at"] for a in d["attempts"]] == [_iso(start)] + [_iso(start + o) for o in offsets]
    assert [a["statusCode"] for a in d["attempts"]] == [None, 500, None, 200]
    assert d["attempts"][2]["error"]

    got = listener.received("flaky")
    assert [r.answered for r in got] == [500, 200]
    assert {r.webhook_id for r in got} == {d["eventId"]}
    for r in got:
        verified(ep["secret"], r)
    api.advance(by="P1D")
    assert len(listener.received("flaky")) == 2


def test_retry_after_is_honoured_and_410_disables_the_endpoint(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "busy", ["subscription.created"])
    listener.answer(503, headers={"Retry-After": "600"})
    team_subscription(api)
    start = _at(now(api))
    flush(api)
    (d,) = deliveries(api)
    assert (d["attemptCount"], d["nextAttemptAt"]) == (1, _iso(start + timedelta(seconds=600)))
    api.advance(by="PT599S")
    assert _delivery(api, d["id"])["attemptCount"] == 1

    listener.answer(410)
    api.advance(by="PT1S")
    d = _delivery(api, d["id"])
    assert (d["status"], d["attemptCount"], d["nextAttemptAt"]) == ("failed", 2, None)
    assert [a["statusCode"] for a in d["attempts"]] == [503, 410]
    gone = api.ok(api.get(f"/webhooks/endpoints/{ep['id']}"))
    assert gone["disabled"] is True and gone["disabledReason"]

    team_subscription(api, "later")
    api.advance(by="P4D")
    assert len(listener.received("busy")) == 2
    assert len(deliveries(api)) == 1  # nothing new is queued for a disabled endpoint

    # enabling it again (PUT) clears the reason, and new events flow
    listener.answer(200)
    body = {"url": ep["url"], "eventTypes": ep["eventTypes"], "disabled": False}
    again = api.ok(api.put(f"/webhooks/endpoints/{ep['id']}", body))
    assert (again["disabled"], again["disabledReason"]) == (False, None)
    team_subscription(api, "third", start=None)
    flush(api)
    assert [r.answered for r in listener.received("busy")] == [503, 410, 200]


def test_after_the_whole_schedule_the_delivery_fails_and_redeliver_sends_it_again(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "broken", ["subscription.created"])
    listener.answer(500)
    team_subscription(api)
    start = _at(now(api))
    flush(api)
    (d,) = deliveries(api)
    for delay in RETRY_DELAYS:
        assert _delivery(api, d["id"])["status"] == "pending"
        api.advance(by=_seconds(delay))
    d = _delivery(api, d["id"])
    assert (d["status"], d["attemptCount"], d["nextAttemptAt"]) == ("failed", len(RETRY_DELAYS) + 1, None)
    total = sum(RETRY_DELAYS, timedelta())
    assert timedelta(days=3) <= total < timedelta(days=4)
    assert d["attempts"][-1]["at"] == _iso(start + total) == d["failedAt"]
    assert all(a["statusCode"] == 500 for a in d["attempts"])
    api.advance(by="P7D")
    assert len(listener.received("broken")) == len(RETRY_DELAYS) + 1  # given up: nothing more

    listener.answer(200)
    redelivered = api.ok(api.post(f"/webhooks/deliveries/{d['id']}/redeliver"))
    assert redelivered["status"] == "pending"
    flush(api)
    d = _delivery(api, d["id"])
    assert (d["status"], d["attempts"][-1]["statusCode"]) == ("succeeded", 200)

    # a delivery that succeeded can be sent again too, still with the same webhook-id
    api.ok(api.post(f"/webhooks/deliveries/{d['id']}/redeliver"))
    flush(api)
    assert _delivery(api, d["id"])["status"] == "succeeded"
    got = listener.received("broken")
    assert len(got) == len(RETRY_DELAYS) + 3
    assert {r.webhook_id for r in got} == {d["eventId"]}
    for r in got[-2:]:
        verified(ep["secret"], r)
    assert api.post("/webhooks/deliveries/01J0000000000000000000000X/redeliver").status_code == 404
