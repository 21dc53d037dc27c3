"""Pending lines: added to a gathering invoice, invoiced now (due ones only) or by the worker when they fall due."""

from __future__ import annotations

from tests.api.helpers import problem
from tests.billing.helpers import (
    add_pending,
    customer,
    customer_invoices,
    invoice,
    invoice_now,
    line,
    state,
)
from tests.conftest import Api

FUTURE_AT = "2026-04-15T00:00:00Z"


def test_pending_lines_gather_on_one_invoice(api: Api) -> None:
    cust = customer(api, "acme")
    first = add_pending(api, cust["id"], line("Setup fee", "100.00"))
    assert first["isInvoiceNew"] is True
    assert [ln["name"] for ln in first["lines"]] == ["Setup fee"]
    assert first["lines"][0]["totals"]["total"] == "100.00"
    assert first["invoice"]["status"] == "gathering"
    assert first["invoice"]["totals"]["total"] == "100.00"

    second = add_pending(api, cust["id"], line("Consulting", "12.345", quantity="3"), line("Training", "0.10"))
    assert second["isInvoiceNew"] is False
    assert second["invoice"]["id"] == first["invoice"]["id"]
    assert [ln["name"] for ln in second["lines"]] == ["Consulting", "Training"]
    assert second["lines"][0]["totals"]["total"] == "37.04"  # 3 × 12.345 = 37.035, half-even
    assert second["invoice"]["totals"]["total"] == "137.14"
    assert len(invoice(api, first["invoice"]["id"])["lines"]) == 3

    usd = add_pending(api, cust["id"], line("US fee", "5.00"), currency="USD")
    assert usd["isInvoiceNew"] is True  # one gathering invoice per currency
    assert usd["invoice"]["currency"] == "USD"


def test_bad_pending_lines_name_the_field_and_change_nothing(api: Api) -> None:
    cust = customer(api, "acme")
    url = f"/billing/customers/{cust['id']}/invoices/pending-lines"
    backwards = line("Setup fee", "100.00", period_from="2026-03-10T00:00:00Z", period_to="2026-03-01T00:00:00Z")
    problem(api.post(url, {"currency": "EUR", "lines": [backwards]}), 400, field="lines[0].period.to")
    empty = line("Setup fee", "100.00", period_from="2026-03-10T00:00:00Z", period_to="2026-03-10T00:00:00Z")
    problem(api.post(url, {"currency": "EUR", "lines": [line("ok", "1.00"), empty]}), 400, field="lines[1].period.to")
    problem(api.post(url, {"currency": "XXY", "lines": [line("Setup fee", "1.00")]}), 400, field="currency")
    problem(api.post(url, {"currency": "eur", "lines": [line("Setup fee", "1.00")]}), 400, field="currency")
    problem(api.post(url, {"currency": "EUR", "lines": []}), 400, field="lines")
    bad_price = line("Setup fee", "1.00")
    bad_price["price"] = {"type": "flat", "amount": "ten"}
    response = api.post(url, {"currency": "EUR", "lines": [bad_price]})
    body = problem(response, 400)
    assert any(e["field"].startswith("lines[0].price") for e in body["errors"]), body
    no_price = line("Setup fee", "1.00")
    del no_price["price"]
    problem(api.post(url, {"currency": "EUR", "lines": [no_price]}), 400, field="lines[0].price")
    problem(
        api.post(
            "/billing/customers/01J0000000000000000000000X/invoices/pending-lines",
            {"currency": "EUR", "lines": [line("x", "1.00")]},
        ),
        404,
    )
    assert customer_invoices(api, cust["id"]) == []


def test_invoice_now_invoices_due_lines_and_leaves_future_ones_pending(api: Api) -> None:
    cust = customer(api, "acme")
    gathering = add_pending(
        api,
        cust["id"],
        line("Setup fee", "100.00"),
        line(
            "April support",
            "40.00",
            period_from="2026-04-01T00:00:00Z",
            period_to="2026-04-30T00:00:00Z",
            invoice_at=FUTURE_AT,
        ),
    )["invoice"]
    (made,) = invoice_now(api, cust["id"])
    assert [ln["name"] for ln in made["lines"]] == ["Setup fee"]
    assert made["totals"]["total"] == "100.00"
    assert made["status"] == "paid"  # the default profile's sandbox app
    assert made["number"] == "INV-000001"
    assert made["id"] != gathering["id"]

    still = invoice(api, gathering["id"])
    assert still["status"] == "gathering"
    assert [ln["name"] for ln in still["lines"]] == ["April support"]
    assert still["totals"]["total"] == "40.00"

    problem(api.post("/billing/invoices/invoice", {"customerId": cust["id"]}), 409)  # nothing due yet
    assert state(api, gathering["id"]) == "gathering"


def test_invoice_now_takes_the_whole_gathering_invoice_when_all_are_due(api: Api) -> None:
    cust = customer(api, "acme")
    gathering = add_pending(api, cust["id"], line("Setup fee", "100.00"), line("Training", "50.00"))["invoice"]
    (made,) = invoice_now(api, cust["id"])
    assert made["id"] == gathering["id"]
    assert made["totals"]["total"] == "150.00"
    assert made["status"] == "paid"
    # the next pending line opens a new gathering invoice
    assert add_pending(api, cust["id"], line("More", "1.00"))["isInvoiceNew"] is True


def test_nothing_pending_is_409(api: Api) -> None:
    cust = customer(api, "acme")
    problem(api.post("/billing/invoices/invoice", {"customerId": cust["id"]}), 409)
    problem(api.post("/billing/invoices/invoice", {"customerId": "nobody"}), 400, field="customerId")
    problem(
        api.post("/billing/invoices/invoice", {"customerId": cust["id"], "asOf": "2030-01-01T00:00:00Z"}),
        400,
        field="asOf",
    )


def test_the_worker_invoices_pending_lines_when_their_invoice_at_arrives(api: Api) -> None:
    cust = customer(api, "acme")
    gathering = add_pending(
        api,
        cust["id"],
        line(
            "April support",
            "40.00",
            period_from="2026-04-01T00:00:00Z",
            period_to="2026-04-30T00:00:00Z",
            invoice_at=FUTURE_AT,
        ),
        line(
            "May support",
            "45.00",
            period_from="2026-05-01T00:00:00Z",
            period_to="2026-05-31T00:00:00Z",
            invoice_at="2026-05-15T00:00:00Z",
        ),
    )["invoice"]
    api.advance(to="2026-04-14T23:59:00Z")
    assert state(api, gathering["id"]) == "gathering"
    assert len(customer_invoices(api, cust["id"])) == 1

    api.advance(to="2026-04-15T00:00:00Z")
    invoices = customer_invoices(api, cust["id"])
    paid = [i for i in invoices if i["status"] == "paid"]
    assert [[ln["name"] for ln in i["lines"]] for i in paid] == [["April support"]]
    assert paid[0]["totals"]["total"] == "40.00"
    assert paid[0]["issuedAt"] == "2026-04-15T00:00:00Z"
    assert [ln["name"] for ln in invoice(api, gathering["id"])["lines"]] == ["May support"]

    api.advance(to="2026-05-16T00:00:00Z")
    invoices = customer_invoices(api, cust["id"])
    assert sorted(i["totals"]["total"] for i in invoices) == ["40.00", "45.00"]
    assert {i["status"] for i in invoices} == {"paid"}
    assert sorted(i["number"] for i in invoices) == ["INV-000001", "INV-000002"]


def test_the_largest_amounts_add_up_to_the_cent(api: Api) -> None:
    """Amounts wider than 28 digits: the invoice total is still the exact sum of its lines."""
    cust = customer(api, "acme")
    big = line("Big", "999999999999999999.99", quantity="999999999999999")
    added = add_pending(api, cust["id"], big, line("Small", "0.01"))
    assert [ln["totals"]["total"] for ln in added["lines"]] == ["999999999999998999990000000000000.01", "0.01"]
    assert added["invoice"]["totals"]["total"] == "999999999999998999990000000000000.02"
    (made,) = invoice_now(api, cust["id"])
    assert made["totals"]["total"] == "999999999999998999990000000000000.02"
    assert invoice(api, made["id"])["totals"]["total"] == "999999999999998999990000000000000.02"
