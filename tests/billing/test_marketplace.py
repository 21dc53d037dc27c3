"""The marketplace and installed apps: listings, install, get/put/delete, the namespace's default set-up."""

from __future__ import annotations

from tests.api.helpers import problem
from tests.billing.helpers import create_profile, default_profile, install
from tests.conftest import Api


def test_listings_name_both_apps(api: Api) -> None:
    body = api.ok(api.get("/marketplace/listings"))
    assert {item["type"] for item in body["items"]} == {"sandbox", "custom_invoicing"}
    assert body["totalCount"] == 2
    listing = api.ok(api.get("/marketplace/listings/custom_invoicing"))
    assert listing["type"] == "custom_invoicing"
    assert {c["type"] for c in listing["capabilities"]} == {"calculateTax", "invoiceCustomers", "collectPayments"}


def test_install_each_listing(api: Api) -> None:
    for app_type in ("sandbox", "custom_invoicing"):
        result = api.ok(api.post(f"/marketplace/listings/{app_type}/install", {"name": f"My {app_type}"}))
        assert set(result) >= {"app", "defaultForCapabilityTypes"}
        assert result["app"]["type"] == app_type
        assert result["app"]["name"] == f"My {app_type}"
        assert result["defaultForCapabilityTypes"] == []
        assert api.ok(api.get(f"/apps/{result['app']['id']}"))["id"] == result["app"]["id"]
    types = sorted(a["type"] for a in api.ok(api.get("/apps"))["items"])
    assert types == ["custom_invoicing", "sandbox", "sandbox"]  # the namespace's own sandbox, and the new one


def test_install_with_billing_profile_does_not_take_over_the_default(api: Api) -> None:
    before = default_profile(api)
    result = api.ok(api.post("/marketplace/listings/custom_invoicing/install", {"createBillingProfile": True}))
    profiles = api.ok(api.get("/billing/profiles"))["items"]
    made = [p for p in profiles if p["apps"]["invoicing"]["id"] == result["app"]["id"]]
    assert len(made) == 1 and made[0]["default"] is False
    assert default_profile(api)["id"] == before["id"]


def test_unknown_listing_is_a_problem(api: Api) -> None:
    response = api.post("/marketplace/listings/stripe/install", {})
    assert response.status_code in (400, 404)
    problem(response, response.status_code)
    response = api.get("/marketplace/listings/stripe")
    assert response.status_code in (400, 404)
    problem(response, response.status_code)
    assert len(api.ok(api.get("/apps"))["items"]) == 1  # only the default sandbox


def test_new_custom_app_has_both_hooks_off_and_put_sets_them(api: Api) -> None:
    app = install(api)
    assert app["enableDraftSyncHook"] is False
    assert app["enableIssuingSyncHook"] is False

    updated = api.ok(api.put(f"/apps/{app['id']}", {"name": "ERP", "enableDraftSyncHook": True}))
    assert updated["name"] == "ERP"
    assert updated["enableDraftSyncHook"] is True
    assert updated["enableIssuingSyncHook"] is False
    updated = api.ok(api.put(f"/apps/{app['id']}", {"name": "ERP", "enableIssuingSyncHook": True}))
    assert (updated["enableDraftSyncHook"], updated["enableIssuingSyncHook"]) == (True, True)
    fetched = api.ok(api.get(f"/apps/{app['id']}"))
    assert (fetched["enableDraftSyncHook"], fetched["enableIssuingSyncHook"]) == (True, True)
    updated = api.ok(
        api.put(f"/apps/{app['id']}", {"name": "ERP", "enableDraftSyncHook": False, "enableIssuingSyncHook": False})
    )
    assert (updated["enableDraftSyncHook"], updated["enableIssuingSyncHook"]) == (False, False)


def test_put_with_the_wrong_type_names_type(api: Api) -> None:
    app = install(api)
    problem(api.put(f"/apps/{app['id']}", {"name": "X", "type": "sandbox"}), 400, field="type")
    assert api.ok(api.get(f"/apps/{app['id']}"))["name"] == app["name"]  # nothing changed
    problem(api.put(f"/apps/{app['id']}", {"name": "X", "type": "stripe"}), 400, field="type")


def test_unknown_app_is_404(api: Api) -> None:
    problem(api.get("/apps/01J0000000000000000000000X"), 404)
    problem(api.put("/apps/01J0000000000000000000000X", {"name": "X"}), 404)
    problem(api.delete("/apps/01J0000000000000000000000X"), 404)


def test_delete_app(api: Api) -> None:
    app = install(api)
    assert api.delete(f"/apps/{app['id']}").status_code == 204
    problem(api.get(f"/apps/{app['id']}"), 404)
    problem(api.delete(f"/apps/{app['id']}"), 404)
    assert [a["type"] for a in api.ok(api.get("/apps"))["items"]] == ["sandbox"]


def test_delete_app_a_profile_uses_is_409(api: Api) -> None:
    app = install(api)
    profile = create_profile(api, app["id"])
    problem(api.delete(f"/apps/{app['id']}"), 409)
    assert api.ok(api.get(f"/apps/{app['id']}"))["id"] == app["id"]
    sandbox = default_profile(api)["apps"]["invoicing"]["id"]
    problem(api.delete(f"/apps/{sandbox}"), 409)  # the default profile uses it
    assert api.delete(f"/billing/profiles/{profile['id']}").status_code == 204
    assert api.delete(f"/apps/{app['id']}").status_code == 204


def test_namespace_starts_with_a_sandbox_app_and_a_default_profile(api: Api) -> None:
    profiles = api.ok(api.get("/billing/profiles"))["items"]
    assert [p["default"] for p in profiles] == [True]
    (app,) = api.ok(api.get("/apps"))["items"]
    assert app["type"] == "sandbox"
    assert profiles[0]["apps"] == {
        "tax": {"id": app["id"]},
        "invoicing": {"id": app["id"]},
        "payment": {"id": app["id"]},
    }
    assert profiles[0]["workflow"]["invoicing"]["autoAdvance"] is True
    assert profiles[0]["workflow"]["invoicing"]["dueAfter"] == "P30D"
