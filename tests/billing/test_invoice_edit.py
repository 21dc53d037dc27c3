"""Update Invoice (PUT /billing/invoices/{id}): lines kept by id, new ones added, missing ones removed."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import problem
from tests.billing.helpers import bill, custom_setup, history, invoice, line, path, state
from tests.conftest import Api

MANUAL = {"autoAdvance": False}


def _as_input(ln: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A line of an invoice as Update Invoice input (kept by its id)."""
    out = {
        "id": ln["id"],
        "name": ln["name"],
        "period": ln["period"],
        "invoiceAt": ln["invoiceAt"],
        "price": {"type": "flat", "amount": ln["price"]["amount"], "paymentTerm": "in_arrears"},
        "quantity": ln["quantity"],
    }
    out.update(changes)
    return out


def _draft(api: Api, **kw: Any) -> dict[str, Any]:
    _, _, cust = custom_setup(api, invoicing=MANUAL, **kw)
    inv = bill(api, cust["id"], line("Setup fee", "100.00"), line("Consulting", "80.00", quantity="2"))
    return inv


def test_edit_a_draft_waiting_for_approval(api: Api) -> None:
    inv = _draft(api)
    assert inv["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert inv["totals"]["total"] == "260.00"
    setup, consulting = inv["lines"]

    body = {
        "lines": [
            _as_input(setup, price={"type": "flat", "amount": "99.995", "paymentTerm": "in_arrears"}),
            line("Travel", "12.345", quantity="3"),
        ]
    }
    edited = api.ok(api.put(f"/billing/invoices/{inv['id']}", body))
    assert edited["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    by_name = {ln["name"]: ln for ln in edited["lines"]}
    assert set(by_name) == {"Setup fee", "Travel"}  # Consulting removed: it was left out
    assert by_name["Setup fee"]["id"] == setup["id"]  # kept by id
    assert by_name["Setup fee"]["totals"]["total"] == "100.00"  # 99.995 half-even to the cent
    assert by_name["Travel"]["id"] not in (setup["id"], consulting["id"])
    assert by_name["Travel"]["totals"]["total"] == "37.04"  # 3 × 12.345 = 37.035
    assert edited["totals"]["total"] == "137.04"
    assert edited["totals"]["amount"] == "137.04"
    assert invoice(api, inv["id"]) == edited

    steps = history(api, inv["id"])
    assert [(h["from"], h["trigger"], h["to"]) for h in steps][-3:] == [
        ("draft.manual_approval_needed", "update", "draft.validating"),
        ("draft.validating", "next", "draft.syncing"),
        ("draft.syncing", "next", "draft.manual_approval_needed"),
    ]

    approved = api.ok(api.post(f"/billing/invoices/{inv['id']}/approve"))
    assert approved["totals"]["total"] == "137.04"
    assert approved["statusDetails"]["extendedStatus"] == "payment_processing.pending"


def test_quantity_change_recalculates(api: Api) -> None:
    inv = _draft(api)
    setup, consulting = inv["lines"]
    body = {"lines": [_as_input(setup), _as_input(consulting, quantity="2.5")]}
    edited = api.ok(api.put(f"/billing/invoices/{inv['id']}", body))
    assert [ln["totals"]["total"] for ln in edited["lines"]] == ["100.00", "200.00"]
    assert edited["totals"]["total"] == "300.00"


def test_unknown_line_id_names_it_and_changes_nothing(api: Api) -> None:
    inv = _draft(api)
    before_history = history(api, inv["id"])
    setup, consulting = inv["lines"]
    body = {
        "lines": [
            _as_input(setup, price={"type": "flat", "amount": "1.00", "paymentTerm": "in_arrears"}),
            line("New", "5.00"),
            _as_input(consulting, id="01J0000000000000000000000X"),
        ]
    }
    problem(api.put(f"/billing/invoices/{inv['id']}", body), 400, field="lines[2].id")
    assert invoice(api, inv["id"]) == inv
    assert history(api, inv["id"]) == before_history

    bad_period = _as_input(setup, period={"from": "2026-03-10T00:00:00Z", "to": "2026-03-01T00:00:00Z"})
    problem(api.put(f"/billing/invoices/{inv['id']}", {"lines": [bad_period]}), 400, field="lines[0].period.to")
    assert invoice(api, inv["id"]) == inv

    other = _draft_for_other_customer(api)
    problem(
        api.put(f"/billing/invoices/{inv['id']}", {"lines": [_as_input(other["lines"][0])]}), 400, field="lines[0].id"
    )
    assert invoice(api, inv["id"]) == inv
    problem(api.put("/billing/invoices/01J0000000000000000000000X", {"lines": []}), 404)


def _draft_for_other_customer(api: Api) -> dict[str, Any]:
    from tests.billing.helpers import customer, pin

    acme_profile = invoice(api, _first_invoice_id(api))["workflow"]["sourceBillingProfileId"]
    cust = customer(api, "globex")
    pin(api, cust["id"], acme_profile)
    return bill(api, cust["id"], line("Globex fee", "10.00"))


def _first_invoice_id(api: Api) -> str:
    invoice_id: str = api.ok(api.get("/billing/invoices"))["items"][-1]["id"]
    return invoice_id


def test_issued_and_later_invoices_are_immutable(api: Api) -> None:
    inv = _draft(api)
    approved = api.ok(api.post(f"/billing/invoices/{inv['id']}/approve"))
    assert approved["statusDetails"]["extendedStatus"] == "payment_processing.pending"
    body = {"lines": [_as_input(ln) for ln in approved["lines"]]}
    problem(api.put(f"/billing/invoices/{inv['id']}", body), 409, code="invoice-immutable")
    problem(api.put(f"/billing/invoices/{inv['id']}", {"lines": []}), 409, code="invoice-immutable")
    assert invoice(api, inv["id"]) == approved


def test_ready_to_issue_on_is_immutable(api: Api) -> None:
    """With the issuing hook on, an approved invoice passes draft.ready_to_issue and waits in issuing.syncing."""
    inv = _draft(api, issuing_hook=True)
    approved = api.ok(api.post(f"/billing/invoices/{inv['id']}/approve"))
    assert approved["statusDetails"]["extendedStatus"] == "issuing.syncing"
    assert "draft.ready_to_issue" in path(api, inv["id"])
    assert approved["statusDetails"]["immutable"] is True
    problem(api.put(f"/billing/invoices/{inv['id']}", {"lines": []}), 409, code="invoice-immutable")
    assert invoice(api, inv["id"]) == approved


def test_an_edit_after_a_draft_sync_makes_hold_2_wait_again(api: Api) -> None:
    inv = _draft(api, draft_hook=True)
    assert inv["statusDetails"]["extendedStatus"] == "draft.syncing"
    setup, consulting = inv["lines"]

    # an edit in draft.syncing: it stays there, the draft sync is still needed
    edited = api.ok(api.put(f"/billing/invoices/{inv['id']}", {"lines": [_as_input(setup), _as_input(consulting)]}))
    assert edited["statusDetails"]["extendedStatus"] == "draft.syncing"

    sync = {"invoicing": {"externalId": "ext-1", "lineExternalIds": [{"lineId": setup["id"], "externalId": "l-1"}]}}
    assert api.post(f"/apps/custom-invoicing/{inv['id']}/draft/synchronized", sync).status_code == 204
    assert state(api, inv["id"]) == "draft.manual_approval_needed"

    # an edit now makes the external copy stale: back through validating to draft.syncing
    edited = api.ok(api.put(f"/billing/invoices/{inv['id']}", {"lines": [_as_input(consulting)]}))
    assert edited["statusDetails"]["extendedStatus"] == "draft.syncing"
    assert edited["totals"]["total"] == "160.00"
    assert path(api, inv["id"])[-3:] == ["draft.manual_approval_needed", "draft.validating", "draft.syncing"]
    problem(api.post(f"/billing/invoices/{inv['id']}/approve"), 409)  # approve never skips hold 2

    # the old sync names a line that is gone
    problem(
        api.post(f"/apps/custom-invoicing/{inv['id']}/draft/synchronized", sync),
        400,
        field="invoicing.lineExternalIds[0].lineId",
    )
    assert state(api, inv["id"]) == "draft.syncing"
    fresh = {"invoicing": {"lineExternalIds": [{"lineId": consulting["id"], "externalId": "l-2"}]}}
    assert api.post(f"/apps/custom-invoicing/{inv['id']}/draft/synchronized", fresh).status_code == 204
    synced = invoice(api, inv["id"])
    assert synced["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert synced["lines"][0]["externalIds"]["invoicing"] == "l-2"


def test_an_edit_while_waiting_auto_approval_makes_hold_2_wait_again(api: Api) -> None:
    _, _, cust = custom_setup(api, invoicing={"draftPeriod": "P2D"}, draft_hook=True)
    inv = bill(api, cust["id"], line("Setup fee", "100.00"))
    assert inv["statusDetails"]["extendedStatus"] == "draft.syncing"
    assert api.post(f"/apps/custom-invoicing/{inv['id']}/draft/synchronized", {}).status_code == 204
    waiting = invoice(api, inv["id"])
    assert waiting["statusDetails"]["extendedStatus"] == "draft.waiting_auto_approval"
    assert waiting["draftUntil"] == "2026-04-01T12:00:00Z"

    edited = api.ok(api.put(f"/billing/invoices/{inv['id']}", {"lines": [line("Setup fee", "90.00")]}))
    assert edited["statusDetails"]["extendedStatus"] == "draft.syncing"
    api.advance(by="P3D")
    assert state(api, inv["id"]) == "draft.syncing"  # the draft period is over, but the sync is still owed
    assert api.post(f"/apps/custom-invoicing/{inv['id']}/draft/synchronized", {}).status_code == 204
    after = invoice(api, inv["id"])
    assert after["statusDetails"]["extendedStatus"] == "draft.waiting_auto_approval"
    assert after["draftUntil"] == "2026-04-04T12:00:00Z"
    assert after["totals"]["total"] == "90.00"


def test_removing_every_line_zeroes_the_totals_and_invalidates(api: Api) -> None:
    inv = _draft(api)
    emptied = api.ok(api.put(f"/billing/invoices/{inv['id']}", {"lines": []}))
    assert emptied["lines"] == []
    assert emptied["totals"]["amount"] == "0.00"
    assert emptied["totals"]["total"] == "0.00"
    assert emptied["statusDetails"]["extendedStatus"] == "draft.invalid"
    assert [i["code"] for i in emptied["validationIssues"]] == ["no_lines"]
    problem(api.post(f"/billing/invoices/{inv['id']}/approve"), 409)

    # an edit from draft.invalid validates again
    fixed = api.ok(api.put(f"/billing/invoices/{inv['id']}", {"lines": [line("Setup fee", "75.50")]}))
    assert fixed["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert fixed["validationIssues"] == []
    assert fixed["totals"]["total"] == "75.50"


def test_a_negative_price_is_refused(api: Api) -> None:
    inv = _draft(api)
    setup, consulting = inv["lines"]
    body = {"lines": [_as_input(setup), _as_input(consulting), line("Goodwill credit", "-300.00")]}
    problem(api.put(f"/billing/invoices/{inv['id']}", body), 400, field="lines[2].price.amount")
    assert invoice(api, inv["id"]) == inv


def test_update_invoice_changes_its_workflow(api: Api) -> None:
    inv = _draft(api)
    body = {
        "lines": [_as_input(ln) for ln in inv["lines"]],
        "workflow": {"workflow": {"invoicing": {"dueAfter": "P5D"}}},
    }
    edited = api.ok(api.put(f"/billing/invoices/{inv['id']}", body))
    assert edited["workflow"]["workflow"]["invoicing"]["dueAfter"] == "P5D"
    assert edited["workflow"]["workflow"]["invoicing"]["autoAdvance"] is False  # the rest stays
    bad = {**body, "workflow": {"workflow": {"invoicing": {"dueAfter": "P99999Y"}}}}
    problem(api.put(f"/billing/invoices/{inv['id']}", bad), 400, field="workflow.workflow.invoicing.dueAfter")
    assert invoice(api, inv["id"]) == edited
    approved = api.ok(api.post(f"/billing/invoices/{inv['id']}/approve"))
    assert approved["dueAt"] == "2026-04-04T12:00:00Z"
