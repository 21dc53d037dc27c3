"""Customer overrides: pin a profile and override workflow fields for one customer only."""

from __future__ import annotations

from tests.api.helpers import problem
from tests.billing.helpers import bill, create_profile, customer, default_profile, install, path, pin, state
from tests.conftest import Api


def test_without_override_the_default_profile_is_in_force(api: Api) -> None:
    cust = customer(api, "acme")
    body = api.ok(api.get(f"/billing/customers/{cust['id']}"))
    default = default_profile(api)
    assert body["baseBillingProfileId"] == default["id"]
    assert body.get("customerOverride") is None
    assert body["customerProfile"]["workflow"] == default["workflow"]
    assert body["customerProfile"]["apps"] == default["apps"]
    assert api.ok(api.get("/billing/customers"))["items"] == []
    problem(api.get("/billing/customers/01J0000000000000000000000X"), 404)


def test_pin_a_profile_and_override_workflow(api: Api) -> None:
    app = install(api)
    profile = create_profile(api, app["id"], invoicing={"dueAfter": "P14D"})
    acme, other = customer(api, "acme"), customer(api, "other")
    body = pin(api, acme["id"], profile["id"], {"invoicing": {"autoAdvance": False}})
    assert body["baseBillingProfileId"] == profile["id"]
    assert body["customerOverride"]["billingProfileId"] == profile["id"]
    assert body["customerOverride"]["customerId"] == acme["id"]
    merged = body["customerProfile"]["workflow"]["invoicing"]
    assert merged["autoAdvance"] is False  # the override
    assert merged["dueAfter"] == "P14D"  # the profile
    assert api.ok(api.get(f"/billing/customers/{acme['id']}")) == body

    listed = api.ok(api.get("/billing/customers"))
    assert [i["customerOverride"]["customerId"] for i in listed["items"]] == [acme["id"]]
    everyone = api.ok(api.get("/billing/customers?includeAllCustomers=true"))["items"]
    assert {i["customerProfile"]["apps"]["invoicing"]["id"] for i in everyone} == {
        app["id"],
        default_profile(api)["apps"]["invoicing"]["id"],
    }
    by_profile = api.ok(api.get(f"/billing/customers?billingProfile={profile['id']}"))["items"]
    assert len(by_profile) == 1
    assert api.ok(api.get(f"/billing/customers/{other['id']}")).get("customerOverride") is None


def test_bad_override_input_names_the_field_and_changes_nothing(api: Api) -> None:
    cust = customer(api, "acme")
    problem(
        api.put(f"/billing/customers/{cust['id']}", {"billingProfileId": "01J0000000000000000000000X"}),
        400,
        field="billingProfileId",
    )
    problem(
        api.put(f"/billing/customers/{cust['id']}", {"workflow": {"invoicing": {"dueAfter": "later"}}}),
        400,
        field="workflow.invoicing.dueAfter",
    )
    assert api.ok(api.get(f"/billing/customers/{cust['id']}")).get("customerOverride") is None
    problem(api.put("/billing/customers/01J0000000000000000000000X", {}), 404)


def test_delete_override(api: Api) -> None:
    app = install(api)
    profile = create_profile(api, app["id"])
    cust = customer(api, "acme")
    pin(api, cust["id"], profile["id"])
    assert api.delete(f"/billing/customers/{cust['id']}").status_code == 204
    problem(api.delete(f"/billing/customers/{cust['id']}"), 404)
    body = api.ok(api.get(f"/billing/customers/{cust['id']}"))
    assert body.get("customerOverride") is None
    assert body["baseBillingProfileId"] == default_profile(api)["id"]


def test_override_workflow_only_keeps_the_default_profile(api: Api) -> None:
    cust = customer(api, "acme")
    body = api.ok(api.put(f"/billing/customers/{cust['id']}", {"workflow": {"invoicing": {"autoAdvance": False}}}))
    assert body["baseBillingProfileId"] == default_profile(api)["id"]
    assert body["customerProfile"]["workflow"]["invoicing"]["autoAdvance"] is False
    inv = bill(api, cust["id"])
    assert inv["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    approved = api.ok(api.post(f"/billing/invoices/{inv['id']}/approve"))
    assert approved["status"] == "paid"  # the default profile's sandbox settles it


def test_only_the_overridden_customer_goes_to_the_custom_app(api: Api) -> None:
    app = install(api)
    profile = create_profile(api, app["id"])
    pinned, plain = customer(api, "pinned"), customer(api, "plain")
    pin(api, pinned["id"], profile["id"], {"invoicing": {"autoAdvance": False}})

    held = bill(api, pinned["id"])
    assert held["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    assert held["workflow"]["apps"]["invoicing"]["id"] == app["id"]
    assert held["workflow"]["sourceBillingProfileId"] == profile["id"]
    assert held["statusDetails"]["availableActions"].get("approve") == {"resultingState": "draft.ready_to_issue"}

    settled = bill(api, plain["id"])
    assert settled["status"] == "paid"
    assert settled["workflow"]["sourceBillingProfileId"] == default_profile(api)["id"]
    assert settled["number"] == "INV-000001"

    approved = api.ok(api.post(f"/billing/invoices/{held['id']}/approve"))
    # the custom app's hooks are off: it is issued at once, then waits for the integration's payment status
    assert approved["statusDetails"]["extendedStatus"] == "payment_processing.pending"
    assert approved["issuedAt"] is not None
    assert path(api, held["id"])[-4:] == [
        "draft.ready_to_issue",
        "issuing.syncing",
        "issued",
        "payment_processing.pending",
    ]
    api.advance(by="P1D")
    assert state(api, held["id"]) == "payment_processing.pending"  # nothing settles it by itself
    assert api.post(f"/apps/custom-invoicing/{held['id']}/payment/status", {"trigger": "paid"}).status_code == 204
    assert state(api, held["id"]) == "paid"
