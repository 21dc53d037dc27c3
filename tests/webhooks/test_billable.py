"""Hold 1, the Subscription Billable hook, with the worked example: the closed invoice waits outstanding for
the listener and the grace, takes outstanding edits to the cent, runs on request, and the failure policies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from billhook.events.transport import RETRY_DELAYS
from tests.api.helpers import closed_invoices, gathering, lines, problem
from tests.billing.helpers import create_profile, pin, sandbox_app_id
from tests.conftest import Api
from tests.webhooks.helpers import PERIOD_END, SUB_START, deliveries, endpoint, flush, now, team_subscription
from tests.webhooks.listener import Listener, verified

BILLABLE = "subscription.billable"


def _worked_example(api: Api, customer: str = "acme") -> dict[str, Any]:
    """A Team subscription from SUB_START with 57.5 GB of storage and 12 seats in its first period."""
    sub = team_subscription(api, customer)
    if now(api) < SUB_START:
        api.advance(to=SUB_START)
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/storage_gb/quantity", {"quantity": "57.5"}))
    api.ok(api.put(f"/subscriptions/{sub['id']}/items/seats/quantity", {"quantity": "12"}))
    return sub


def _april(api: Api, sub_id: str) -> dict[str, Any]:
    opening, april = closed_invoices(api, sub_id)
    assert (opening["status"], opening["totals"]["total"]) == ("paid", "29.00")  # the opening invoice: never held
    assert april["period"] == {"from": SUB_START, "to": PERIOD_END}
    return april


def _state(invoice: dict[str, Any]) -> str:
    extended: str = invoice["statusDetails"]["extendedStatus"]
    return extended


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _failed_issues(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in invoice["validationIssues"] if i["code"] == "billable_hook_failed"]


def _exhaust_schedule(api: Api) -> None:
    for delay in RETRY_DELAYS:
        api.advance(by=f"PT{int(delay.total_seconds())}S")


def test_held_invoice_takes_outstanding_edits_to_the_cent_and_runs_on_request(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "billing", [BILLABLE])
    sub = _worked_example(api)
    sid = sub["id"]
    api.advance(to=PERIOD_END)

    april = _april(api, sid)
    assert (_state(april), april["totals"]["total"]) == ("draft.outstanding", "130.88")
    assert api.ok(api.get(f"/subscriptions/{sid}/outstanding-invoice"))["id"] == april["id"]
    (request,) = listener.received("billing")
    event = verified(ep["secret"], request)
    assert event["type"] == BILLABLE and set(event["data"]) == {"subscription", "customer", "invoice"}
    data = event["data"]
    assert (data["subscription"]["id"], data["customer"]["key"], data["invoice"]["id"]) == (sid, "acme", april["id"])
    # the subscription as it was when its period closed: the period the invoice bills
    assert (data["subscription"]["planKey"], data["subscription"]["currentPeriod"]) == (
        "team",
        {"from": SUB_START, "to": PERIOD_END},
    )
    assert (_state(data["invoice"]), data["invoice"]["totals"]["total"]) == ("draft.outstanding", "130.88")
    (delivery,) = deliveries(api)
    assert (delivery["subjectId"], delivery["status"]) == (april["id"], "succeeded")

    def edit(method: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        return api.ok(api.request(method, f"/subscriptions/{sid}{path}", json=body), status)

    def check(total: str, storage: str | None = None) -> dict[str, Any]:
        inv = api.ok(api.get(f"/billing/invoices/{april['id']}?expand=lines"))
        assert (_state(inv), inv["totals"]["total"]) == ("draft.outstanding", total)
        if storage is not None:
            assert lines(inv)["Storage (GB)"]["totals"]["total"] == storage
        return inv

    out = {"invoicePeriod": "outstanding"}
    edit("PUT", "/items/storage_gb/quantity", {"quantity": "20"} | out)
    check("121.50", "2.50")  # (20 − 10 included) × 0.25
    edit("POST", "/items/storage_gb/quantity/add", {"quantity": "2"} | out)
    check("122.00", "3.00")
    edit("POST", "/items/storage_gb/quantity/remove", {"quantity": "4"} | out)
    check("121.00", "2.00")
    edit("POST", "/items/seats/quantity/add", out)  # 13 seats × 7.50
    check("128.50")
    problem(api.post(f"/subscriptions/{sid}/items/storage_gb/quantity/remove", {"quantity": "100"} | out), 409)
    check("128.50", "2.00")
    setup = edit("POST", "/charges", {"chargeCode": "setup", "quantity": 2, "eachAmount": "12.50"} | out, 201)
    assert (setup["invoiceId"], setup["amount"]) == (april["id"], "25.00")
    check("153.50")
    credit = edit("POST", "/charges", {"chargeCode": "goodwill", "quantity": 1, "eachAmount": "-5.00"} | out, 201)
    check("148.50")
    edit("DELETE", f"/charges/{setup['id']}", status=204)
    held = check("123.50", "2.00")

    # invoicePeriod=current changes the new gathering invoice only
    may_before = gathering(api, sid)
    edit("PUT", "/items/storage_gb/quantity", {"quantity": "40", "invoicePeriod": "current"})
    consulting = {"chargeCode": "consulting", "quantity": 1, "eachAmount": "100.00", "invoicePeriod": "current"}
    assert edit("POST", "/charges", consulting, 201)["invoiceId"] == may_before["id"]
    may = gathering(api, sid)
    assert may["id"] == may_before["id"]
    assert lines(may)["Storage (GB)"]["quantity"] == "40"
    assert lines(may)["Storage (GB)"]["totals"]["total"] == "7.50"  # (40 − 10) × 0.25
    # seats are licensed: the 13th added on April went on into May, which still had the 12 April carried
    assert lines(may)["Seats"]["totals"]["total"] == "97.50"
    assert may["totals"]["total"] == "205.00"  # 7.50 + 97.50 + 100.00 (May's base fee was billed in advance in April)
    assert check("123.50", "2.00") == held

    # Run the outstanding invoice: at once, long before the grace
    ran = api.ok(api.post(f"/subscriptions/{sid}/outstanding-invoice/run"))
    assert (ran["id"], ran["status"], ran["totals"]["total"], ran["number"]) == (
        april["id"],
        "paid",
        "123.50",
        "INV-000002",
    )
    assert ran["issuedAt"] == PERIOD_END == now(api)
    problem(api.get(f"/subscriptions/{sid}/outstanding-invoice"), 404)

    # it left draft.outstanding: nothing is held, outstanding edits are 409 and change nothing
    for method, path, body in (
        ("PUT", "/items/storage_gb/quantity", {"quantity": "30"} | out),
        ("POST", "/items/storage_gb/quantity/add", out),
        ("POST", "/items/seats/quantity/remove", out),
        ("POST", "/charges", {"chargeCode": "late", "quantity": 1, "eachAmount": "1.00"} | out),
    ):
        problem(api.request(method, f"/subscriptions/{sid}{path}", json=body), 409, code="no-outstanding-invoice")
    problem(api.delete(f"/subscriptions/{sid}/charges/{credit['id']}"), 409, code="invoice-immutable")
    after = api.ok(api.get(f"/billing/invoices/{april['id']}?expand=lines"))
    assert (after["status"], after["totals"], after["lines"]) == ("paid", ran["totals"], ran["lines"])
    assert gathering(api, sid)["totals"]["total"] == may["totals"]["total"]
    api.advance(by="PT2H")
    assert len(listener.received("billing")) == 1


def test_the_grace_runs_on_the_test_clock_from_the_last_successful_delivery(api: Api, listener: Listener) -> None:
    endpoint(api, listener, "billing", [BILLABLE])
    quick_profile = create_profile(api, sandbox_app_id(api), name="Quick", invoicing={"billableGrace": "PT10M"})
    slow = _worked_example(api, "acme")
    quick = _worked_example(api, "quick")
    pin(api, quick["customerId"], quick_profile["id"])

    listener.down()
    api.advance(to=PERIOD_END)  # the first attempts are refused
    slow_inv, quick_inv = _april(api, slow["id"]), _april(api, quick["id"])
    assert _state(slow_inv) == _state(quick_inv) == "draft.outstanding"
    listener.up()
    api.advance(by="PT5S")  # the retries succeed: the grace counts from here
    delivered = _at(PERIOD_END) + timedelta(seconds=5)
    assert {d["status"] for d in deliveries(api)} == {"succeeded"}
    assert len(listener.received("billing")) == 2

    def states() -> tuple[str, str]:
        return _state(_april(api, slow["id"])), _state(_april(api, quick["id"]))

    api.advance(to=_iso(delivered + timedelta(minutes=10, seconds=-1)))
    assert states() == ("draft.outstanding", "draft.outstanding")
    api.advance(by="PT1S")
    assert states() == ("draft.outstanding", "paid")
    assert _april(api, quick["id"])["issuedAt"] == _iso(delivered + timedelta(minutes=10))
    api.advance(to=_iso(delivered + timedelta(hours=1, seconds=-1)))
    assert states() == ("draft.outstanding", "paid")
    api.advance(by="PT1S")
    assert states() == ("paid", "paid")
    paid = _april(api, slow["id"])
    assert (paid["totals"]["total"], paid["issuedAt"]) == ("130.88", _iso(delivered + timedelta(hours=1)))
    assert _april(api, quick["id"])["totals"]["total"] == "130.88"


def test_without_a_billable_subscriber_nothing_is_held(api: Api, listener: Listener) -> None:
    endpoint(api, listener, "invoices", ["invoice.updated"])
    sub = _worked_example(api)
    api.advance(to=PERIOD_END)
    april = _april(api, sub["id"])
    assert (april["status"], april["totals"]["total"], april["issuedAt"]) == ("paid", "130.88", PERIOD_END)
    assert api.ok(api.get(f"/events?type={BILLABLE}"))["items"] == []
    statuses = [_state(r.event["data"]) for r in listener.received("invoices") if r.event["data"]["id"] == april["id"]]
    assert {"draft.outstanding", "paid"} <= set(statuses)  # it passed through hold 1 at once


def test_failed_hook_with_hold_waits_for_a_successful_redelivery(api: Api, listener: Listener) -> None:
    ep = endpoint(api, listener, "billing", [BILLABLE])
    sub = _worked_example(api)
    listener.answer(500)
    api.advance(to=PERIOD_END)
    _exhaust_schedule(api)
    (delivery,) = deliveries(api)
    assert (delivery["status"], delivery["attemptCount"]) == ("failed", len(RETRY_DELAYS) + 1)
    held = _april(api, sub["id"])
    assert _state(held) == "draft.outstanding"
    (issue,) = _failed_issues(held)
    assert issue["severity"] == "critical"
    api.advance(by="P10D")
    assert _state(_april(api, sub["id"])) == "draft.outstanding"

    listener.answer(200)
    api.ok(api.post(f"/webhooks/deliveries/{delivery['id']}/redeliver"))
    flush(api)
    redelivered = _at(now(api))
    assert api.ok(api.get(f"/webhooks/deliveries/{delivery['id']}"))["status"] == "succeeded"
    still = _april(api, sub["id"])
    assert _state(still) == "draft.outstanding" and _failed_issues(still) == []
    api.advance(to=_iso(redelivered + timedelta(hours=1, seconds=-1)))
    assert _state(_april(api, sub["id"])) == "draft.outstanding"
    api.advance(by="PT1S")
    paid = _april(api, sub["id"])
    assert (paid["status"], paid["totals"]["total"], paid["validationIssues"]) == ("paid", "130.88", [])
    verified(ep["secret"], listener.received("billing")[-1])


def test_failed_hook_with_proceed_runs_after_the_grace_from_the_failure(api: Api, listener: Listener) -> None:
    endpoint(api, listener, "billing", [BILLABLE])
    profile = create_profile(api, sandbox_app_id(api), name="Lenient", invoicing={"billableHookFailure": "proceed"})
    sub = _worked_example(api)
    pin(api, sub["customerId"], profile["id"])
    listener.answer(500)
    api.advance(to=PERIOD_END)
    _exhaust_schedule(api)
    (delivery,) = deliveries(api)
    assert delivery["status"] == "failed"
    failed = _at(delivery["failedAt"])
    held = _april(api, sub["id"])
    assert _state(held) == "draft.outstanding"
    assert _failed_issues(held) == []  # it will proceed: nothing for anyone to fix
    api.advance(to=_iso(failed + timedelta(hours=1, seconds=-1)))
    assert _state(_april(api, sub["id"])) == "draft.outstanding"
    api.advance(by="PT1S")
    paid = _april(api, sub["id"])
    assert (paid["status"], paid["totals"]["total"], paid["issuedAt"]) == (
        "paid",
        "130.88",
        _iso(failed + timedelta(hours=1)),
    )
