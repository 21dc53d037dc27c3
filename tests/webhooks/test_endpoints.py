"""Webhook endpoints: CRUD, the secret shown once, event type filters, disabled endpoints, URL rules, rotation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billhook.events.catalog import CATALOG
from billhook.receiver import InvalidWebhook, verify
from tests.api.helpers import problem
from tests.conftest import CLOCK_START, Api, new_key
from tests.webhooks.helpers import SUB_START, endpoint, flush, team_subscription
from tests.webhooks.listener import Listener, verified


def _count(api: Api) -> int:
    total: int = api.ok(api.get("/webhooks/endpoints"))["totalCount"]
    return total


def test_endpoint_crud_shows_the_secret_once(api: Api, runtime: Any, listener: Listener) -> None:
    created = endpoint(api, listener, "a", ["invoice.paid", "subscription.created"], description="ERP")
    assert created["url"] == listener.url("a")
    assert created["eventTypes"] == ["invoice.paid", "subscription.created"]
    assert (created["description"], created["disabled"], created["disabledReason"]) == ("ERP", False, None)

    got = api.ok(api.get(f"/webhooks/endpoints/{created['id']}"))
    assert got.get("secret") is None
    assert {k: v for k, v in got.items() if k != "secret"} == {k: v for k, v in created.items() if k != "secret"}
    listed = api.ok(api.get("/webhooks/endpoints"))
    assert [e["id"] for e in listed["items"]] == [created["id"]]
    assert all(e.get("secret") is None for e in listed["items"])

    body = {"url": listener.url("b"), "eventTypes": ["invoice.paid"]}
    updated = api.ok(api.put(f"/webhooks/endpoints/{created['id']}", body))
    assert (updated["url"], updated["eventTypes"], updated.get("secret")) == (listener.url("b"), ["invoice.paid"], None)

    # bad input names the field and changes nothing
    problem(api.post("/webhooks/endpoints", {"url": "ftp://example.com/hook"}), 400, field="url")
    body = {"url": "https://example.com/h", "eventTypes": ["invoice.nope"]}
    problem(api.post("/webhooks/endpoints", body), 400, field="eventTypes[0]")
    body = {"url": "https://example.com/h", "eventTypes": ["invoice.paid", "nope.nope"]}
    problem(api.post("/webhooks/endpoints", body), 400, field="eventTypes[1]")
    problem(api.put(f"/webhooks/endpoints/{created['id']}", {"url": "ftp://example.com/x"}), 400, field="url")
    assert api.ok(api.get(f"/webhooks/endpoints/{created['id']}"))["url"] == listener.url("b")
    assert _count(api) == 1

    # a public https URL is fine; every catalog type is accepted
    public = api.ok(api.post("/webhooks/endpoints", {"url": "https://example.com/h", "eventTypes": list(CATALOG)}), 201)
    assert public["eventTypes"] == list(CATALOG)

    assert api.delete(f"/webhooks/endpoints/{created['id']}").status_code == 204
    problem(api.get(f"/webhooks/endpoints/{created['id']}"), 404)
    problem(api.delete(f"/webhooks/endpoints/{created['id']}"), 404)
    assert _count(api) == 1

    # another namespace sees none of it
    other = Api(api.client, new_key(runtime, "other"))
    problem(other.get(f"/webhooks/endpoints/{public['id']}"), 404)
    assert other.ok(other.get("/webhooks/endpoints"))["items"] == []


def test_only_subscribed_types_reach_an_endpoint_and_disabled_ones_get_nothing(api: Api, listener: Listener) -> None:
    created_only = endpoint(api, listener, "created", ["subscription.created"])
    paid_only = endpoint(api, listener, "paid", ["invoice.paid"])
    everything = endpoint(api, listener, "all")
    endpoint(api, listener, "off", disabled=True)
    later_off = endpoint(api, listener, "later")

    team_subscription(api)
    flush(api)
    assert [r.event["type"] for r in listener.received("created")] == ["subscription.created"]
    assert [r.event["type"] for r in listener.received("later")] == ["subscription.created"]

    body = {"url": listener.url("later"), "eventTypes": [], "disabled": True}
    assert api.ok(api.put(f"/webhooks/endpoints/{later_off['id']}", body))["disabled"] is True
    api.advance(to=SUB_START)  # the opening invoice is issued and paid

    for name, ep in (("created", created_only), ("paid", paid_only), ("all", everything)):
        for r in listener.received(name):
            verified(ep["secret"], r)
    assert [r.event["type"] for r in listener.received("created")] == ["subscription.created"]
    assert [r.event["type"] for r in listener.received("paid")] == ["invoice.paid"]
    types = {r.event["type"] for r in listener.received("all")}
    assert types == {"subscription.created", "invoice.created", "invoice.updated", "invoice.paid"}
    assert listener.received("off") == []
    assert len(listener.received("later")) == 1
    # nothing is queued for the disabled endpoints either
    queued = api.ok(api.get("/webhooks/deliveries?pageSize=1000"))["items"]
    assert {d["endpointId"] for d in queued} == {created_only["id"], paid_only["id"], everything["id"], later_off["id"]}
    assert all(d["status"] == "succeeded" for d in queued)


@pytest.fixture
def strict_api(tmp_path: Path) -> Iterator[Api]:
    """An SQLite server that refuses private and loopback webhook URLs."""
    from fastapi.testclient import TestClient

    from billhook.api.app import create_app
    from billhook.config import Settings
    from billhook.runtime import Runtime

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'strict.db'}",
        test_clock=True,
        test_clock_start=CLOCK_START,
        webhook_allow_private=False,
    )
    rt = Runtime.start(settings)
    try:
        with TestClient(create_app(rt)) as client:
            yield Api(client, new_key(rt))
    finally:
        rt.close()


PRIVATE_URLS = (
    "http://127.0.0.1:9000/hook",
    "http://10.0.0.1/hook",
    "http://localhost:9000/hook",
    "https://api.localhost/hook",
    "http://192.168.1.20/hook",
    "http://169.254.169.254/latest",
    "http://[::1]:9000/hook",
    "http://0.0.0.0/hook",
)


def test_private_and_loopback_urls_are_refused_unless_allowed(strict_api: Api) -> None:
    created = strict_api.ok(strict_api.post("/webhooks/endpoints", {"url": "https://93.184.215.14/hook"}), 201)
    for url in PRIVATE_URLS:
        problem(strict_api.post("/webhooks/endpoints", {"url": url}), 400, field="url")
        problem(strict_api.put(f"/webhooks/endpoints/{created['id']}", {"url": url}), 400, field="url")
    assert strict_api.ok(strict_api.get("/webhooks/endpoints"))["totalCount"] == 1
    assert strict_api.ok(strict_api.get(f"/webhooks/endpoints/{created['id']}"))["url"] == created["url"]


def test_after_a_rotation_both_secrets_verify(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "rot", ["subscription.created"])
    team_subscription(api, "before")
    flush(api)
    (before,) = listener.received("rot")
    verified(ep["secret"], before)
    assert len(before.headers["webhook-signature"].split()) == 1

    rotated = api.ok(api.post(f"/webhooks/endpoints/{ep['id']}/rotate-secret"))
    new_secret = rotated["secret"]
    listener.secrets["rot"].append(new_secret)
    assert new_secret.startswith("whsec_") and new_secret != ep["secret"]
    assert api.ok(api.get(f"/webhooks/endpoints/{ep['id']}")).get("secret") is None

    team_subscription(api, "after")
    flush(api)
    (_, after) = listener.received("rot")
    signatures = after.headers["webhook-signature"].split()
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert verified(new_secret, after)["data"]["customerId"]
    verified(ep["secret"], after)
    with pytest.raises(WebhookVerificationError):  # a secret it was not signed with
        Webhook("whsec_" + "A" * 32).verify(after.body, after.headers)
    with pytest.raises(InvalidWebhook):
        verify("whsec_" + "A" * 32, after.headers, after.body)
