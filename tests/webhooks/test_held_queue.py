"""Several held invoices of one subscription: a queue, oldest first. ``invoicePeriod=outstanding`` names the
oldest, ``invoiceId`` names one exactly, anything else the current period; the held invoices run in period
order, by hand and by themselves; a licensed item corrected on an older period goes on into the later ones."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import closed_invoices, gathering, lines, problem
from tests.billing.helpers import create_profile, pin, sandbox_app_id
from tests.conftest import Api
from tests.webhooks.helpers import PERIOD_END, SUB_START, endpoint, team_subscription
from tests.webhooks.listener import Listener

BILLABLE = "subscription.billable"
JUNE_END = "2026-06-30T00:00:00Z"


def _state(invoice: dict[str, Any]) -> str:
    extended: str = invoice["statusDetails"]["extendedStatus"]
    return extended


def _three_held(api: Api, listener: Listener, *, grace: str = "P1Y") -> tuple[str, list[dict[str, Any]]]:
    """The worked example (57.5 GB and 12 seats in April) on a profile whose grace outlasts the test: the
    April, May and June invoices all wait in draft.outstanding, each delivered."""
    endpoint(api, listener, "billing", [BILLABLE])
    profile = create_profile(api, sandbox_app_id(api), name="Patient", invoicing={"billableGrace": grace})
    sub = team_subscription(api)
    pin(api, sub["customerId"], profile["id"])
    api.advance(to=SUB_START)
    sid = sub["id"]
    api.ok(api.put(f"/subscriptions/{sid}/items/storage_gb/quantity", {"quantity": "57.5"}))
    api.ok(api.put(f"/subscriptions/{sid}/items/seats/quantity", {"quantity": "12"}))
    api.advance(to=JUNE_END)
    _, *held = closed_invoices(api, sid)
    assert [(_state(i), i["period"]["to"], i["totals"]["total"]) for i in held] == [
        ("draft.outstanding", PERIOD_END, "130.88"),  # 47.5 GB × 0.25 + 12 seats × 7.50 + May's 29.00
        ("draft.outstanding", "2026-05-31T00:00:00Z", "119.00"),  # storage is metered: 0 GB in May
        ("draft.outstanding", JUNE_END, "119.00"),
    ]
    return sid, held


def _invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(api.get(f"/billing/invoices/{invoice_id}?expand=lines"))
    return found


def test_outstanding_names_the_oldest_held_invoice_and_invoice_id_names_one(api: Api, listener: Listener) -> None:
    sid, (april, may, june) = _three_held(api, listener)
    base = f"/subscriptions/{sid}"
    assert api.ok(api.get(f"{base}/outstanding-invoice"))["id"] == april["id"]
    assert api.ok(api.get(f"{base}/outstanding-invoice?invoiceId={june['id']}"))["id"] == june["id"]
    storage = next(i for i in api.ok(api.get(f"{base}/items"))["items"] if i["key"] == "storage_gb")
    assert [h["invoiceId"] for h in storage["held"]] == [april["id"], may["id"], june["id"]]
    assert storage["outstanding"]["invoiceId"] == april["id"]

    # outstanding, in the body or as Cheddar's query parameter: the oldest
    body = api.ok(api.put(f"{base}/items/storage_gb/quantity", {"quantity": "42", "invoicePeriod": "outstanding"}))
    assert (body["invoiceId"], body["invoicePeriod"], body["period"]["to"]) == (april["id"], "outstanding", PERIOD_END)
    query = api.ok(api.put(f"{base}/items/storage_gb/quantity?invoicePeriod=outstanding", {"quantity": "42"}))
    assert query["invoiceId"] == april["id"]
    assert _invoice(api, april["id"])["totals"]["total"] == "127.00"  # (42 − 10) × 0.25 = 8.00

    # invoiceId: that held invoice exactly, in the body or the query
    named = api.ok(api.put(f"{base}/items/storage_gb/quantity", {"quantity": "30", "invoiceId": may["id"]}))
    assert (named["invoiceId"], named["invoicePeriod"]) == (may["id"], "outstanding")
    api.ok(api.post(f"{base}/items/storage_gb/quantity/add?invoiceId={june['id']}", {"quantity": "14"}))
    assert _invoice(api, may["id"])["totals"]["total"] == "124.00"  # (30 − 10) × 0.25 = 5.00
    assert _invoice(api, june["id"])["totals"]["total"] == "120.00"  # (14 − 10) × 0.25 = 1.00
    assert _invoice(api, april["id"])["totals"]["total"] == "127.00"

    # any other invoicePeriod is the current period, and the answer says so
    current = gathering(api, sid)
    for other in ("current", "Outstanding", "next", ""):
        changed = api.ok(api.put(f"{base}/items/storage_gb/quantity", {"quantity": "3", "invoicePeriod": other}))
        assert (changed["invoicePeriod"], changed["invoiceId"]) == ("current", current["id"])
        changed = api.ok(api.put(f"{base}/items/storage_gb/quantity?invoicePeriod={other}", {"quantity": "4"}))
        assert (changed["invoicePeriod"], changed["invoiceId"]) == ("current", current["id"])
    assert lines(gathering(api, sid))["Storage (GB)"]["quantity"] == "4"

    # refused, changing nothing: two different periods, a period that contradicts invoiceId, an invoice that is
    # not held (the current one, another subscription's), one that does not exist
    before = [_invoice(api, i["id"]) for i in (april, may, june)]
    both = api.put(
        f"{base}/items/storage_gb/quantity?invoicePeriod=current", {"quantity": "1", "invoicePeriod": "outstanding"}
    )
    problem(both, 400, field="invoicePeriod")
    contradicts = {"quantity": "1", "invoicePeriod": "current", "invoiceId": may["id"]}
    problem(api.put(f"{base}/items/storage_gb/quantity", contradicts), 400, field="invoicePeriod")
    twice = api.put(
        f"{base}/items/storage_gb/quantity?invoiceId={april['id']}", {"quantity": "1", "invoiceId": may["id"]}
    )
    problem(twice, 400, field="invoiceId")
    not_held = problem(
        api.put(f"{base}/items/storage_gb/quantity", {"quantity": "1", "invoiceId": current["id"]}),
        409,
        code="invoice-not-held",
    )
    assert "gathering" in not_held["detail"]
    other_sub = team_subscription(api, "globex", start=None)
    other_gathering = gathering(api, other_sub["id"])
    foreign = {"quantity": "1", "invoiceId": april["id"]}
    problem(
        api.put(f"/subscriptions/{other_sub['id']}/items/storage_gb/quantity", foreign), 409, code="invoice-not-held"
    )
    problem(api.put(f"{base}/items/storage_gb/quantity", {"quantity": "1", "invoiceId": other_gathering["id"]}), 409)
    problem(
        api.put(f"{base}/items/storage_gb/quantity", {"quantity": "1", "invoiceId": "01J0000000000000000000000X"}), 404
    )
    assert [_invoice(api, i["id"]) for i in (april, may, june)] == before


def test_custom_charges_on_held_invoices_are_added_edited_listed_and_deleted(api: Api, listener: Listener) -> None:
    sid, (april, may, june) = _three_held(api, listener)
    base = f"/subscriptions/{sid}"
    credit = api.ok(
        api.post(f"{base}/charges", {"chargeCode": "loyalty", "eachAmount": "-5.00", "invoicePeriod": "outstanding"}),
        201,
    )
    assert (credit["invoiceId"], credit["invoicePeriod"]) == (april["id"], "outstanding")
    fee = api.ok(
        api.post(f"{base}/charges?invoiceId={june['id']}", {"chargeCode": "setup", "eachAmount": "12.50"}), 201
    )
    assert fee["invoiceId"] == june["id"]
    now_fee = api.ok(api.post(f"{base}/charges", {"chargeCode": "support", "eachAmount": "7.00"}), 201)
    assert now_fee["invoicePeriod"] == "current"
    assert _invoice(api, april["id"])["totals"]["total"] == "125.88"
    assert _invoice(api, june["id"])["totals"]["total"] == "131.50"

    # edited in place: quantity, amount, description (what is not given stays)
    edited = api.ok(api.put(f"{base}/charges/{fee['id']}", {"quantity": 2, "eachAmount": "15.00"}))
    assert (edited["quantity"], edited["eachAmount"], edited["amount"], edited["chargeCode"]) == (
        2,
        "15.00",
        "30.00",
        "setup",
    )
    renamed = api.ok(
        api.put(
            f"{base}/charges/{fee['id']}?invoicePeriod=outstanding&invoiceId={june['id']}", {"description": "Set-up"}
        )
    )
    assert (renamed["description"], renamed["amount"]) == ("Set-up", "30.00")
    june_now = _invoice(api, june["id"])
    assert (june_now["totals"]["total"], _state(june_now)) == ("149.00", "draft.outstanding")
    assert lines(june_now)["Set-up"]["totals"]["total"] == "30.00"
    # an edit that names another invoice than the charge's is refused
    problem(
        api.put(f"{base}/charges/{fee['id']}?invoiceId={may['id']}", {"quantity": 3}), 409, code="charge-not-on-invoice"
    )
    problem(api.put(f"{base}/charges/{fee['id']}", {"quantity": 0}), 400, field="quantity")
    problem(api.put(f"{base}/charges/{fee['id']}", {}), 400)
    problem(api.put(f"{base}/charges/{fee['id']}", {"chargeCode": "other"}), 400, field="chargeCode")
    assert _invoice(api, june["id"])["totals"]["total"] == "149.00"

    def listed(query: str = "") -> list[str]:
        return [c["id"] for c in api.ok(api.get(f"{base}/charges{query}"))["items"]]

    assert listed("?invoicePeriod=outstanding") == [credit["id"], fee["id"]]
    assert listed(f"?invoiceId={june['id']}") == [fee["id"]]
    assert listed("?invoicePeriod=current") == listed("?invoicePeriod=anything") == [now_fee["id"]]
    assert listed() == [credit["id"], fee["id"], now_fee["id"]]

    # once April has run, its credit is billed: no longer listed as outstanding, no longer editable
    api.ok(api.post(f"{base}/outstanding-invoice/run"))
    assert listed("?invoicePeriod=outstanding") == [fee["id"]]
    billed = next(c for c in api.ok(api.get(f"{base}/charges"))["items"] if c["id"] == credit["id"])
    assert billed["invoicePeriod"] == "invoiced"
    problem(api.put(f"{base}/charges/{credit['id']}", {"eachAmount": "-6.00"}), 409, code="invoice-immutable")
    problem(api.delete(f"{base}/charges/{credit['id']}"), 409, code="invoice-immutable")
    assert api.delete(f"{base}/charges/{fee['id']}?invoiceId={june['id']}").status_code == 204
    assert _invoice(api, june["id"])["totals"]["total"] == "119.00"


def test_held_invoices_run_in_period_order(api: Api, listener: Listener) -> None:
    sid, (april, may, june) = _three_held(api, listener)
    base = f"/subscriptions/{sid}"
    refused = problem(api.post(f"{base}/outstanding-invoice/run?invoiceId={may['id']}"), 409, code="older-invoice-held")
    assert april["id"] in refused["detail"]
    refused = problem(api.post(f"/billing/invoices/{june['id']}/approve"), 409)
    assert april["id"] in refused["detail"]
    assert "approve" not in _invoice(api, may["id"])["statusDetails"]["availableActions"]
    assert _state(_invoice(api, may["id"])) == "draft.outstanding"

    ran = api.ok(api.post(f"{base}/outstanding-invoice/run", {"invoiceId": april["id"]}))
    assert (ran["id"], ran["status"], ran["number"][-7:]) == (april["id"], "paid", "-000002")
    assert "approve" in _invoice(api, may["id"])["statusDetails"]["availableActions"]
    second = api.ok(api.post(f"{base}/outstanding-invoice/run"))
    third = api.ok(api.post(f"{base}/outstanding-invoice/run?invoiceId={june['id']}"))
    assert [(i["id"], i["number"][-7:], i["totals"]["total"]) for i in (second, third)] == [
        (may["id"], "-000003", "119.00"),
        (june["id"], "-000004", "119.00"),
    ]
    problem(api.post(f"{base}/outstanding-invoice/run"), 409, code="no-outstanding-invoice")
    problem(api.post(f"{base}/outstanding-invoice/run?invoiceId={may['id']}"), 409, code="invoice-not-held")


def test_the_automatic_run_never_passes_an_older_held_invoice(api: Api, listener: Listener) -> None:
    """April's hook fails every attempt (held, per the default policy); May's is delivered and its grace
    passes, but May waits for April; once April runs, May runs by itself, numbered after it."""
    endpoint(api, listener, "billing", [BILLABLE])
    sub = team_subscription(api)
    api.advance(to=SUB_START)
    sid = sub["id"]
    api.ok(api.put(f"/subscriptions/{sid}/items/seats/quantity", {"quantity": "12"}))
    listener.answer(500)
    api.advance(to=PERIOD_END)
    api.advance(by="P5D")  # the whole retry schedule (about 3.6 days) fails
    _, april = closed_invoices(api, sid)
    assert [i["code"] for i in april["validationIssues"]] == ["billable_hook_failed"]
    listener.answer(200)
    api.advance(to="2026-05-31T00:00:00Z")
    api.advance(by="PT3H")  # May's delivery succeeded at its period's end; its grace (PT1H) is long over
    _, april, may = closed_invoices(api, sid)
    assert (_state(april), _state(may)) == ("draft.outstanding", "draft.outstanding")
    held_may = _invoice(api, may["id"])
    assert held_may["statusDetails"]["availableActions"].get("approve") is None

    api.ok(api.post(f"/subscriptions/{sid}/outstanding-invoice/run"))  # April, by hand
    api.advance(by="PT0S")
    _, april, may = closed_invoices(api, sid)
    assert [(i["status"], i["number"], i["totals"]["total"]) for i in (april, may)] == [
        ("paid", "INV-000002", "119.00"),
        ("paid", "INV-000003", "119.00"),
    ]


def test_a_licensed_correction_goes_on_into_the_periods_that_carried_it(api: Api, listener: Listener) -> None:
    sid, (april, may, june) = _three_held(api, listener)
    base = f"/subscriptions/{sid}"
    current = gathering(api, sid)
    # June's seats were changed since they were carried over: the correction stops there
    api.ok(api.put(f"{base}/items/seats/quantity", {"quantity": "11", "invoiceId": june["id"]}))
    corrected = api.ok(api.put(f"{base}/items/seats/quantity", {"quantity": "14", "invoicePeriod": "outstanding"}))
    assert (corrected["invoiceId"], corrected["carriedTo"]) == (april["id"], [may["id"]])
    assert [_invoice(api, i["id"])["totals"]["total"] for i in (april, may, june)] == ["145.88", "134.00", "111.50"]
    assert lines(gathering(api, sid))["Seats"]["quantity"] == "11"  # from June on, 11

    # corrected on June, it goes on into the current period, which still has what June carried
    again = api.ok(api.put(f"{base}/items/seats/quantity", {"quantity": "13", "invoiceId": june["id"]}))
    assert again["carriedTo"] == [current["id"]]
    assert lines(gathering(api, sid))["Seats"]["quantity"] == "13"
    # a metered item is never carried
    metered = api.ok(api.put(f"{base}/items/storage_gb/quantity", {"quantity": "20", "invoicePeriod": "outstanding"}))
    assert metered.get("carriedTo") is None
    assert "Storage (GB)" not in lines(_invoice(api, may["id"]))  # 0 GB: May bills no storage


def test_run_outstanding_on_the_older_invoice_races_the_automatic_run(
    api: Api, listener: Listener, runtime: Any
) -> None:
    """April's grace is over and the worker is about to run it; Run Outstanding on April and on May are sent at
    the same moment. April is issued once; May never before April (refused while April is held, else after)."""
    from billhook.services import outstanding
    from billhook.services.common import Actor
    from billhook.store.clock import StoredTestClock
    from tests.lifecycle.test_races import race

    endpoint(api, listener, "billing", [BILLABLE])
    profile = create_profile(api, sandbox_app_id(api), name="Month", invoicing={"billableGrace": "P35D"})
    api.advance(to=SUB_START)
    for rep in range(3):
        sub = team_subscription(api, f"racer-{rep}", start=None)
        pin(api, sub["customerId"], profile["id"])
        sid = sub["id"]
        api.ok(api.put(f"/subscriptions/{sid}/items/seats/quantity", {"quantity": "12"}))
        api.advance(by="P2M")  # two periods close; each delivered at once; April's grace ends 35 days later
        _, april, may = closed_invoices(api, sid)
        assert (_state(april), _state(may)) == ("draft.outstanding", "draft.outstanding")
        release = _invoice(api, april["id"])["period"]["to"]
        assert isinstance(runtime.clock, StoredTestClock)
        with runtime.uows.write("default") as uow:  # to April's release in one jump: the worker finds it due
            runtime.clock.set(uow.conn, _after(release, days=35))
        worker = runtime.worker()

        def run(invoice_id: str | None = None, s: str = sid) -> Any:
            with runtime.uows.write("default") as uow:
                return outstanding.run(uow, Actor("default", "api_key:racer"), s, invoice_id)

        try:
            results = race(worker.run_once, run, lambda i=may["id"]: run(i))
        finally:
            worker.close()
        api.advance(by="PT0S")
        april_now, may_now = _invoice(api, april["id"]), _invoice(api, may["id"])
        assert april_now["status"] == "paid"
        for inv in (april_now, may_now):
            steps = api.ok(api.get(f"/billing/invoices/{inv['id']}/history"))["items"]
            assert [h["to"] for h in steps].count("issued") == (1 if inv["status"] == "paid" else 0), steps
        if may_now["status"] == "paid":  # a run came after April had left the queue
            assert int(may_now["number"][-6:]) == int(april_now["number"][-6:]) + 1
        else:
            assert _state(may_now) == "draft.outstanding"
        for result in results[1:]:  # each run issued an invoice, or was refused for a reason that says why
            refused = getattr(result, "code", None)
            assert isinstance(result, dict) or refused in ("older-invoice-held", "invoice-not-held"), result


def _after(at: str, *, days: int) -> Any:
    from datetime import datetime, timedelta

    return datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(days=days)
