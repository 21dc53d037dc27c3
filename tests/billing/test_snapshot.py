"""An invoice keeps the merged workflow it left gathering with: later profile changes don't touch it."""

from __future__ import annotations

from tests.billing.helpers import add_pending, bill, custom_setup, invoice, line, pin, profile_body
from tests.conftest import Api


def test_due_at_follows_the_snapshot_not_the_current_profile(api: Api) -> None:
    app, profile, cust = custom_setup(api, invoicing={"dueAfter": "P10D"})
    inv = bill(api, cust["id"])
    assert inv["statusDetails"]["extendedStatus"] == "payment_processing.pending"
    assert inv["issuedAt"] == "2026-03-30T12:00:00Z"
    assert inv["dueAt"] == "2026-04-09T12:00:00Z"
    assert inv["workflow"]["sourceBillingProfileId"] == profile["id"]
    assert inv["workflow"]["workflow"]["invoicing"]["dueAfter"] == "P10D"
    assert inv["workflow"]["apps"]["payment"]["id"] == app["id"]

    body = profile_body(app["id"], invoicing={"dueAfter": "P45D"})
    api.ok(api.put(f"/billing/profiles/{profile['id']}", body))
    after = invoice(api, inv["id"])
    assert after["dueAt"] == "2026-04-09T12:00:00Z"
    assert after["workflow"]["workflow"]["invoicing"]["dueAfter"] == "P10D"

    later = bill(api, cust["id"], line("Second", "1.00"))
    assert later["dueAt"] == "2026-05-14T12:00:00Z"  # the new dueAfter, 45 days
    assert later["workflow"]["workflow"]["invoicing"]["dueAfter"] == "P45D"


def test_snapshot_is_taken_when_the_invoice_leaves_gathering(api: Api) -> None:
    """A gathering invoice follows the customer's current profile and override until it closes."""
    app, profile, cust = custom_setup(api, invoicing={"dueAfter": "P10D"})
    gathering = add_pending(api, cust["id"], line("Setup fee", "100.00"))["invoice"]
    pin(api, cust["id"], profile["id"], {"invoicing": {"dueAfter": "P3D", "autoAdvance": False}})
    (made,) = api.ok(api.post("/billing/invoices/invoice", {"customerId": cust["id"]}), 201)
    assert made["id"] == gathering["id"]
    assert made["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert made["workflow"]["workflow"]["invoicing"]["dueAfter"] == "P3D"
    assert made["workflow"]["sourceBillingProfileId"] == profile["id"]

    api.ok(api.delete(f"/billing/customers/{cust['id']}"), 204)  # back to the default (sandbox) profile
    approved = api.ok(api.post(f"/billing/invoices/{made['id']}/approve"))
    assert approved["statusDetails"]["extendedStatus"] == "payment_processing.pending"  # still the custom app
    assert approved["dueAt"] == "2026-04-02T12:00:00Z"
    assert approved["workflow"]["apps"]["invoicing"]["id"] == app["id"]
