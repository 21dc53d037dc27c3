"""Overdue by the worker when dueAt passes unpaid; voiding with OpenMeter's VoidInvoiceActionInput body."""

from __future__ import annotations

from tests.api.helpers import problem
from tests.billing.helpers import bill, custom_setup, customer, events, history, invoice, state
from tests.conftest import Api


def test_unpaid_invoice_goes_overdue_then_paid(api: Api, runtime: object) -> None:
    _, _, cust = custom_setup(api, invoicing={"dueAfter": "P10D"})
    inv = bill(api, cust["id"])
    assert inv["statusDetails"]["extendedStatus"] == "payment_processing.pending"
    assert inv["dueAt"] == "2026-04-09T12:00:00Z"

    api.advance(to="2026-04-09T11:59:00Z")
    assert state(api, inv["id"]) == "payment_processing.pending"
    assert events(runtime, "invoice.overdue", inv["id"]) == []

    api.advance(by="P1D")  # 11 days after issue
    overdue = invoice(api, inv["id"])
    assert overdue["status"] == "overdue"
    assert overdue["statusDetails"]["extendedStatus"] == "overdue"
    last = history(api, inv["id"])[-1]
    assert (last["from"], last["trigger"], last["to"]) == ("payment_processing.pending", "next", "overdue")
    assert last["actor"].startswith("worker:")
    assert last["at"] == "2026-04-09T12:00:00Z"  # at dueAt: the clock stepped through it on its way
    (event,) = events(runtime, "invoice.overdue", inv["id"])
    assert event["data"]["id"] == inv["id"]
    assert event["data"]["status"] == "overdue"
    assert events(runtime, "invoice.updated", inv["id"])[-1]["data"]["status"] == "overdue"

    assert api.post(f"/apps/custom-invoicing/{inv['id']}/payment/status", {"trigger": "paid"}).status_code == 204
    paid = invoice(api, inv["id"])
    assert paid["status"] == "paid"
    assert paid["paidAt"] == "2026-04-10T11:59:00Z"
    assert len(events(runtime, "invoice.paid", inv["id"])) == 1


def test_failed_payment_also_goes_overdue(api: Api) -> None:
    _, _, cust = custom_setup(api, invoicing={"dueAfter": "P10D"})
    inv = bill(api, cust["id"])
    assert (
        api.post(f"/apps/custom-invoicing/{inv['id']}/payment/status", {"trigger": "payment_failed"}).status_code == 204
    )
    api.advance(by="P11D")
    assert state(api, inv["id"]) == "overdue"


def test_sandbox_invoices_never_go_overdue(api: Api) -> None:
    cust = customer(api, "acme")
    inv = bill(api, cust["id"])
    assert inv["status"] == "paid"
    api.advance(by="P40D")
    assert state(api, inv["id"]) == "paid"


def test_void_with_a_discard_action(api: Api) -> None:
    _, _, cust = custom_setup(api)
    inv = bill(api, cust["id"])
    body = {"action": {"percentage": 100, "action": {"type": "discard"}}, "reason": "x"}
    voided = api.ok(api.post(f"/billing/invoices/{inv['id']}/void", body))
    assert voided["status"] == "voided"
    assert voided["voidedAt"] == "2026-03-30T12:00:00Z"
    assert voided["statusDetails"]["availableActions"] == {}
    problem(api.post(f"/billing/invoices/{inv['id']}/void", body), 409)


def test_void_without_a_body(api: Api) -> None:
    _, _, cust = custom_setup(api)
    inv = bill(api, cust["id"])
    assert api.ok(api.post(f"/billing/invoices/{inv['id']}/void"))["status"] == "voided"


def test_void_refuses_what_it_cannot_do(api: Api) -> None:
    _, _, cust = custom_setup(api)
    inv = bill(api, cust["id"])
    url = f"/billing/invoices/{inv['id']}/void"
    pending = {"action": {"percentage": 100, "action": {"type": "pending"}}, "reason": "x"}
    problem(api.post(url, pending), 400, field="action.action.type")
    partial = {"action": {"percentage": 50, "action": {"type": "discard"}}, "reason": "x"}
    problem(api.post(url, partial), 400, field="action.percentage")
    problem(
        api.post(url, {"action": {"percentage": 100, "action": {"type": "refund"}}}), 400, field="action.action.type"
    )
    problem(
        api.post(url, {"action": {"percentage": 101, "action": {"type": "discard"}}}), 400, field="action.percentage"
    )
    assert state(api, inv["id"]) == "payment_processing.pending"


def test_void_is_refused_on_a_draft(api: Api) -> None:
    _, _, cust = custom_setup(api, invoicing={"autoAdvance": False})
    inv = bill(api, cust["id"])
    problem(api.post(f"/billing/invoices/{inv['id']}/void", {"reason": "x"}), 409)
    assert state(api, inv["id"]) == "draft.manual_approval_needed"
