"""Billing profiles: create with supplier, workflow and apps; validation; default handling; delete rules."""

from __future__ import annotations

from tests.api.helpers import problem
from tests.billing.helpers import create_profile, customer, default_profile, install, pin, profile_body
from tests.conftest import Api

WORKFLOW = {
    "autoAdvance": False,
    "draftPeriod": "P2D",
    "dueAfter": "P14D",
    "billableGrace": "PT30M",
    "billableHookFailure": "proceed",
}


def _profile_count(api: Api) -> int:
    count: int = api.ok(api.get("/billing/profiles"))["totalCount"]
    return count


def test_create_profile_with_supplier_workflow_and_apps(api: Api) -> None:
    app = install(api)
    created = create_profile(api, app["id"], name="ERP", invoicing=WORKFLOW)
    assert created["name"] == "ERP"
    assert created["default"] is False
    assert created["supplier"]["name"] == "Supplier Ltd"
    assert created["supplier"]["addresses"][0]["city"] == "Berlin"
    assert created["workflow"]["invoicing"] | WORKFLOW == created["workflow"]["invoicing"]
    assert created["workflow"]["payment"]["collectionMethod"] == "send_invoice"
    assert created["apps"] == {"tax": {"id": app["id"]}, "invoicing": {"id": app["id"]}, "payment": {"id": app["id"]}}
    assert api.ok(api.get(f"/billing/profiles/{created['id']}")) == created
    listed = {p["id"]: p for p in api.ok(api.get("/billing/profiles"))["items"]}
    assert listed[created["id"]] == created
    assert len(listed) == 2


def test_unset_workflow_fields_take_the_defaults(api: Api) -> None:
    app = install(api)
    created = create_profile(api, app["id"], invoicing={"dueAfter": "P7D"})
    invoicing = created["workflow"]["invoicing"]
    assert invoicing["dueAfter"] == "P7D"
    assert invoicing["autoAdvance"] is True
    assert invoicing["draftPeriod"] == "P0D"
    assert invoicing["billableGrace"] == "PT1H"
    assert invoicing["billableHookFailure"] == "hold"


def test_unknown_app_id_names_the_app_field(api: Api) -> None:
    app = install(api)
    body = profile_body(app["id"])
    body["apps"]["invoicing"] = "01J0000000000000000000000X"
    problem(api.post("/billing/profiles", body), 400, field="apps.invoicing")
    assert _profile_count(api) == 1


def test_deleted_app_is_unknown(api: Api) -> None:
    app = install(api)
    assert api.delete(f"/apps/{app['id']}").status_code == 204
    problem(api.post("/billing/profiles", profile_body(app["id"])), 400, field="apps.tax")


def test_bad_workflow_values_name_the_field(api: Api) -> None:
    app = install(api)
    for invoicing, field in (
        ({"dueAfter": "ten days"}, "workflow.invoicing.dueAfter"),
        ({"dueAfter": "P"}, "workflow.invoicing.dueAfter"),
        ({"dueAfter": "PXD"}, "workflow.invoicing.dueAfter"),
        ({"draftPeriod": "P1Q"}, "workflow.invoicing.draftPeriod"),
        ({"billableGrace": "1h"}, "workflow.invoicing.billableGrace"),
        ({"billableHookFailure": "ignore"}, "workflow.invoicing.billableHookFailure"),
        ({"autoAdvance": "perhaps"}, "workflow.invoicing.autoAdvance"),
    ):
        problem(api.post("/billing/profiles", profile_body(app["id"], invoicing=invoicing)), 400, field=field)
    body = profile_body(app["id"])
    body["workflow"]["payment"] = {"collectionMethod": "cash"}
    problem(api.post("/billing/profiles", body), 400, field="workflow.payment.collectionMethod")
    assert _profile_count(api) == 1


def test_put_replaces_a_profile(api: Api) -> None:
    app = install(api)
    created = create_profile(api, app["id"], invoicing={"dueAfter": "P14D"})
    body = profile_body(app["id"], name="Renamed", invoicing={"dueAfter": "P21D", "autoAdvance": False})
    updated = api.ok(api.put(f"/billing/profiles/{created['id']}", body))
    assert updated["name"] == "Renamed"
    assert updated["workflow"]["invoicing"]["dueAfter"] == "P21D"
    assert updated["workflow"]["invoicing"]["autoAdvance"] is False
    assert api.ok(api.get(f"/billing/profiles/{created['id']}")) == updated
    bad = profile_body(app["id"], invoicing={"dueAfter": "soon"})
    problem(api.put(f"/billing/profiles/{created['id']}", bad), 400, field="workflow.invoicing.dueAfter")
    assert api.ok(api.get(f"/billing/profiles/{created['id']}")) == updated
    problem(api.put("/billing/profiles/01J0000000000000000000000X", body), 404)


def test_making_another_profile_default_unsets_the_old_one(api: Api) -> None:
    old = default_profile(api)
    app = install(api)
    created = create_profile(api, app["id"], default=True)
    assert created["default"] is True
    assert default_profile(api)["id"] == created["id"]
    assert api.ok(api.get(f"/billing/profiles/{old['id']}"))["default"] is False

    # and back, through PUT
    body = profile_body(old["apps"]["invoicing"]["id"], name=old["name"], default=True)
    assert api.ok(api.put(f"/billing/profiles/{old['id']}", body))["default"] is True
    assert default_profile(api)["id"] == old["id"]
    assert api.ok(api.get(f"/billing/profiles/{created['id']}"))["default"] is False


def test_the_default_profile_cannot_be_deleted_or_undefaulted(api: Api) -> None:
    default = default_profile(api)
    problem(api.delete(f"/billing/profiles/{default['id']}"), 409)
    body = profile_body(default["apps"]["invoicing"]["id"], name="Default", default=False)
    problem(api.put(f"/billing/profiles/{default['id']}", body), 409)
    assert default_profile(api)["id"] == default["id"]


def test_a_profile_a_customer_override_pins_cannot_be_deleted(api: Api) -> None:
    app = install(api)
    created = create_profile(api, app["id"])
    cust = customer(api, "acme")
    pin(api, cust["id"], created["id"])
    problem(api.delete(f"/billing/profiles/{created['id']}"), 409)
    assert api.ok(api.get(f"/billing/profiles/{created['id']}"))["id"] == created["id"]
    assert api.delete(f"/billing/customers/{cust['id']}").status_code == 204
    assert api.delete(f"/billing/profiles/{created['id']}").status_code == 204


def test_delete_then_404(api: Api) -> None:
    app = install(api)
    created = create_profile(api, app["id"])
    assert api.delete(f"/billing/profiles/{created['id']}").status_code == 204
    problem(api.get(f"/billing/profiles/{created['id']}"), 404)
    problem(api.delete(f"/billing/profiles/{created['id']}"), 404)
    assert [p["id"] for p in api.ok(api.get("/billing/profiles"))["items"]] == [default_profile(api)["id"]]
    archived = api.ok(api.get("/billing/profiles?includeArchived=true"))["items"]
    assert created["id"] in {p["id"] for p in archived}


def test_workflow_durations_are_bounded(api: Api) -> None:
    """A duration is added to dates later (dueAt, draftUntil): one beyond any date is refused up front."""
    app = install(api)
    for invoicing, field in (
        ({"dueAfter": "P9000Y"}, "workflow.invoicing.dueAfter"),
        ({"dueAfter": "P99999Y"}, "workflow.invoicing.dueAfter"),
        ({"draftPeriod": "P99999M"}, "workflow.invoicing.draftPeriod"),
        ({"billableGrace": "P101Y"}, "workflow.invoicing.billableGrace"),
    ):
        problem(api.post("/billing/profiles", profile_body(app["id"], invoicing=invoicing)), 400, field=field)
    cust = customer(api, "acme")
    problem(
        api.put(f"/billing/customers/{cust['id']}", {"workflow": {"invoicing": {"dueAfter": "P99999Y"}}}),
        400,
        field="workflow.invoicing.dueAfter",
    )
    assert _profile_count(api) == 1
    created = create_profile(api, app["id"], invoicing={"dueAfter": "P100Y"})
    assert created["workflow"]["invoicing"]["dueAfter"] == "P100Y"
