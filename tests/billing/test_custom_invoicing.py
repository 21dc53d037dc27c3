"""The Custom Invoicing app's three calls: draft sync, issuing sync and payment status (204 each)."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import problem
from tests.billing.helpers import (
    bill,
    create_profile,
    custom_setup,
    customer,
    history,
    install,
    invoice,
    line,
    path,
    pin,
    state,
)
from tests.conftest import Api


def _draft_url(inv: dict[str, Any]) -> str:
    return f"/apps/custom-invoicing/{inv['id']}/draft/synchronized"


def _issuing_url(inv: dict[str, Any]) -> str:
    return f"/apps/custom-invoicing/{inv['id']}/issuing/synchronized"


def _payment_url(inv: dict[str, Any]) -> str:
    return f"/apps/custom-invoicing/{inv['id']}/payment/status"


def _both_hooks(api: Api, key: str = "acme", **kw: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return custom_setup(api, key, draft_hook=True, issuing_hook=True, **kw)


def test_the_full_custom_flow_with_both_hooks(api: Api) -> None:
    _, profile, cust = _both_hooks(api)
    inv = bill(api, cust["id"], line("Setup fee", "100.00"))
    assert inv["statusDetails"]["extendedStatus"] == "draft.syncing"
    assert inv["number"].startswith("DRAFT-")
    line_id = inv["lines"][0]["id"]

    sync = {
        "invoicing": {
            "invoiceNumber": "ERP-2026-0001",
            "externalId": "erp-inv-1",
            "lineExternalIds": [{"lineId": line_id, "externalId": "erp-line-1"}],
        }
    }
    response = api.post(_draft_url(inv), sync)
    assert response.status_code == 204 and response.content == b""
    synced = invoice(api, inv["id"])
    # autoAdvance with draftPeriod P0D: straight on to the issuing hook
    assert synced["statusDetails"]["extendedStatus"] == "issuing.syncing"
    assert synced["number"] == "ERP-2026-0001"
    assert synced["externalIds"]["invoicing"] == "erp-inv-1"
    assert synced["lines"][0]["externalIds"]["invoicing"] == "erp-line-1"
    assert synced["issuedAt"] is None

    assert api.post(_draft_url(inv), sync).status_code == 204  # the same result again: already applied
    problem(api.post(_draft_url(inv), {"invoicing": {"externalId": "other"}}), 409)
    assert invoice(api, inv["id"]) == synced

    issuing = {"invoicing": {"sentToCustomerAt": "2026-03-30T11:00:00Z"}, "payment": {"externalId": "pay-1"}}
    assert api.post(_issuing_url(inv), issuing).status_code == 204
    issued = invoice(api, inv["id"])
    assert issued["statusDetails"]["extendedStatus"] == "payment_processing.pending"
    assert issued["number"] == "ERP-2026-0001"  # the integration's number stays
    assert issued["sentToCustomerAt"] == "2026-03-30T11:00:00Z"
    assert issued["externalIds"]["payment"] == "pay-1"
    assert issued["issuedAt"] == "2026-03-30T12:00:00Z"
    assert api.post(_issuing_url(inv), issuing).status_code == 204  # idempotent
    problem(api.post(_issuing_url(inv), {"payment": {"externalId": "pay-2"}}), 409)

    assert api.post(_payment_url(inv), {"trigger": "paid"}).status_code == 204
    assert state(api, inv["id"]) == "paid"
    actors = {h["actor"] for h in history(api, inv["id"]) if h["trigger"] in ("draft_synced", "issuing_synced", "paid")}
    assert len(actors) == 1 and actors.pop().startswith("integration:")
    assert profile["id"] == issued["workflow"]["sourceBillingProfileId"]


def test_draft_sync_only_in_draft_syncing(api: Api) -> None:
    _, _, cust = _both_hooks(api)
    inv = bill(api, cust["id"])
    assert api.post(_draft_url(inv), {}).status_code == 204
    assert state(api, inv["id"]) == "issuing.syncing"
    body = problem(api.post(_draft_url(inv), {"invoicing": {"invoiceNumber": "LATE-1"}}), 409)
    assert "draft.syncing" in body["detail"]
    assert invoice(api, inv["id"])["number"].startswith("DRAFT-")

    # with the draft hook off it never waits there: the call is a 409, the same as any state that is not syncing
    _, _, other = custom_setup(api, "globex", invoicing={"autoAdvance": False})
    held = bill(api, other["id"])
    assert held["statusDetails"]["extendedStatus"] == "draft.manual_approval_needed"
    problem(api.post(_draft_url(held), {}), 409)
    assert state(api, held["id"]) == "draft.manual_approval_needed"


def test_draft_sync_rejects_unknown_lines_and_discounts(api: Api) -> None:
    _, _, cust = _both_hooks(api)
    inv = bill(api, cust["id"])
    line_id = inv["lines"][0]["id"]
    bad_line = {"invoicing": {"lineExternalIds": [{"lineId": "01J0000000000000000000000X", "externalId": "x"}]}}
    problem(api.post(_draft_url(inv), bad_line), 400, field="invoicing.lineExternalIds[0].lineId")
    discount = {
        "invoicing": {
            "lineExternalIds": [{"lineId": line_id, "externalId": "x"}],
            "lineDiscountExternalIds": [{"lineDiscountId": "01J0000000000000000000000D", "externalId": "d"}],
        }
    }
    problem(api.post(_draft_url(inv), discount), 400, field="invoicing.lineDiscountExternalIds[0].lineDiscountId")
    problem(
        api.post(_draft_url(inv), {"invoicing": {"invoiceNumber": "DRAFT-1"}}), 400, field="invoicing.invoiceNumber"
    )
    after = invoice(api, inv["id"])
    assert after == inv
    assert after["lines"][0]["externalIds"]["invoicing"] is None


def test_duplicate_invoice_number_is_400(api: Api) -> None:
    _, _, cust = _both_hooks(api)
    first = bill(api, cust["id"], line("One", "1.00"))
    assert api.post(_draft_url(first), {"invoicing": {"invoiceNumber": "ERP-1"}}).status_code == 204
    second = bill(api, cust["id"], line("Two", "2.00"))
    problem(
        api.post(_draft_url(second), {"invoicing": {"invoiceNumber": "ERP-1"}}), 400, field="invoicing.invoiceNumber"
    )
    assert state(api, second["id"]) == "draft.syncing"
    assert api.post(_draft_url(second), {}).status_code == 204
    problem(
        api.post(_issuing_url(second), {"invoicing": {"invoiceNumber": "ERP-1"}}), 400, field="invoicing.invoiceNumber"
    )
    assert state(api, second["id"]) == "issuing.syncing"
    assert api.post(_issuing_url(second), {"invoicing": {"invoiceNumber": "ERP-2"}}).status_code == 204
    assert invoice(api, second["id"])["number"] == "ERP-2"


def test_issuing_sync_only_in_issuing_syncing(api: Api) -> None:
    _, _, cust = _both_hooks(api)
    inv = bill(api, cust["id"])
    assert inv["statusDetails"]["extendedStatus"] == "draft.syncing"
    problem(api.post(_issuing_url(inv), {}), 409)
    assert state(api, inv["id"]) == "draft.syncing"
    problem(api.post(_payment_url(inv), {"trigger": "paid"}), 409)
    assert state(api, inv["id"]) == "draft.syncing"
    problem(api.post(f"/billing/invoices/{inv['id']}/approve"), 409)  # never skips hold 2


def test_hooks_off_numbers_come_from_the_profile_sequence(api: Api) -> None:
    app = install(api)
    first_profile = create_profile(api, app["id"], name="First")
    second_profile = create_profile(api, app["id"], name="Second")
    a, b, plain = customer(api, "a"), customer(api, "b"), customer(api, "plain")
    pin(api, a["id"], first_profile["id"])
    pin(api, b["id"], second_profile["id"])

    numbers = []
    for cust in (a, b, a, b, plain, plain):
        inv = bill(api, cust["id"], line("Fee", "1.00"))
        assert inv["issuedAt"] is not None
        numbers.append(inv["number"])
    assert len(set(numbers)) == len(numbers), numbers  # unique in the namespace
    a1, b1, a2, b2, p1, p2 = numbers
    assert (p1, p2) == ("INV-000001", "INV-000002")  # the namespace's original default profile
    assert a1.endswith("-000001") and a2.endswith("-000002") and a2[:-6] == a1[:-6]
    assert b1.endswith("-000001") and b2.endswith("-000002") and b2[:-6] == b1[:-6]
    assert a1[:-6] != b1[:-6]
    listed = api.ok(api.get("/billing/invoices?pageSize=100"))["items"]
    assert sorted(i["number"] for i in listed) == sorted(numbers)


def test_integration_number_wins_over_the_sequence(api: Api) -> None:
    _, _, cust = custom_setup(api, issuing_hook=True)
    inv = bill(api, cust["id"])
    assert inv["statusDetails"]["extendedStatus"] == "issuing.syncing"
    assert api.post(_issuing_url(inv), {"invoicing": {"invoiceNumber": "ERP-77"}}).status_code == 204
    assert invoice(api, inv["id"])["number"] == "ERP-77"
    other = bill(api, cust["id"], line("Two", "2.00"))
    assert api.post(_issuing_url(other), {}).status_code == 204
    assert invoice(api, other["id"])["number"].endswith("-000001")  # the sequence took no number for ERP-77


PAYMENT_TRIGGERS = ("paid", "payment_failed", "payment_uncollectible", "payment_overdue", "action_required", "void")


def test_payment_triggers_follow_the_table(api: Api) -> None:
    _, _, cust = custom_setup(api)
    inv = bill(api, cust["id"])
    assert inv["statusDetails"]["extendedStatus"] == "payment_processing.pending"

    assert api.post(_payment_url(inv), {"trigger": "payment_failed"}).status_code == 204
    assert state(api, inv["id"]) == "payment_processing.failed"
    assert api.post(_payment_url(inv), {"trigger": "payment_failed"}).status_code == 204  # reported again
    assert api.post(_payment_url(inv), {"trigger": "action_required"}).status_code == 204
    assert state(api, inv["id"]) == "payment_processing.action_required"
    assert api.post(_payment_url(inv), {"trigger": "payment_overdue"}).status_code == 204
    assert state(api, inv["id"]) == "overdue"

    for trigger in ("payment_failed", "action_required"):
        body = problem(api.post(_payment_url(inv), {"trigger": trigger}), 409)
        assert body["detail"].endswith("allowed: paid, payment_uncollectible, void"), body["detail"]
        assert state(api, inv["id"]) == "overdue"
    steps = len(history(api, inv["id"]))
    assert api.post(_payment_url(inv), {"trigger": "payment_overdue"}).status_code == 204  # the same status again
    assert len(history(api, inv["id"])) == steps

    assert api.post(_payment_url(inv), {"trigger": "payment_uncollectible"}).status_code == 204
    assert state(api, inv["id"]) == "uncollectible"
    body = problem(api.post(_payment_url(inv), {"trigger": "payment_failed"}), 409)
    assert "paid" in body["detail"] and "void" in body["detail"]
    assert api.post(_payment_url(inv), {"trigger": "paid"}).status_code == 204
    assert state(api, inv["id"]) == "paid"
    for trigger in ("payment_failed", "void", "payment_uncollectible"):
        body = problem(api.post(_payment_url(inv), {"trigger": trigger}), 409)
        assert "none" in body["detail"]
    assert state(api, inv["id"]) == "paid"
    problem(api.post(_payment_url(inv), {"trigger": "refunded"}), 400, field="trigger")


def test_payment_status_void_and_retry(api: Api) -> None:
    _, _, cust = custom_setup(api)
    inv = bill(api, cust["id"])
    assert api.post(_payment_url(inv), {"trigger": "payment_failed"}).status_code == 204
    retried = api.ok(api.post(f"/billing/invoices/{inv['id']}/retry"))
    assert retried["statusDetails"]["extendedStatus"] == "payment_processing.pending"
    assert api.post(_payment_url(inv), {"trigger": "void"}).status_code == 204
    voided = invoice(api, inv["id"])
    assert voided["status"] == "voided"
    assert voided["voidedAt"] == "2026-03-30T12:00:00Z"
    problem(api.post(_payment_url(inv), {"trigger": "paid"}), 409)


def test_payment_status_is_refused_in_draft(api: Api) -> None:
    _, _, cust = custom_setup(api, invoicing={"autoAdvance": False})
    inv = bill(api, cust["id"])
    for trigger in PAYMENT_TRIGGERS:
        body = problem(api.post(_payment_url(inv), {"trigger": trigger}), 409)
        assert "approve" in body["detail"]
    assert state(api, inv["id"]) == "draft.manual_approval_needed"


def test_sandbox_invoices_are_an_app_mismatch(api: Api) -> None:
    cust = customer(api, "acme")
    inv = bill(api, cust["id"])
    assert inv["status"] == "paid"
    before = path(api, inv["id"])
    problem(api.post(_draft_url(inv), {}), 409, code="app_mismatch")
    problem(api.post(_issuing_url(inv), {}), 409, code="app_mismatch")
    problem(api.post(_payment_url(inv), {"trigger": "paid"}), 409, code="app_mismatch")
    assert path(api, inv["id"]) == before


def test_unknown_invoice_is_404(api: Api) -> None:
    for url in ("draft/synchronized", "issuing/synchronized"):
        problem(api.post(f"/apps/custom-invoicing/01J0000000000000000000000X/{url}", {}), 404)
    problem(api.post("/apps/custom-invoicing/01J0000000000000000000000X/payment/status", {"trigger": "paid"}), 404)


def test_switching_a_hook_off_releases_the_invoices_it_holds(api: Api) -> None:
    app, _, cust = _both_hooks(api)
    at_draft = bill(api, cust["id"], line("One", "1.00"))
    at_issuing = bill(api, cust["id"], line("Two", "2.00"))
    assert api.post(_draft_url(at_issuing), {}).status_code == 204
    assert state(api, at_draft["id"]) == "draft.syncing"
    assert state(api, at_issuing["id"]) == "issuing.syncing"

    api.ok(api.put(f"/apps/{app['id']}", {"name": app["name"], "enableDraftSyncHook": False}))
    api.advance(by="PT1M")
    assert state(api, at_draft["id"]) == "issuing.syncing"  # released from hold 2, held by hook 3
    assert state(api, at_issuing["id"]) == "issuing.syncing"

    api.ok(api.put(f"/apps/{app['id']}", {"name": app["name"], "enableIssuingSyncHook": False}))
    api.advance(by="PT1M")
    assert state(api, at_draft["id"]) == "payment_processing.pending"
    assert state(api, at_issuing["id"]) == "payment_processing.pending"
    numbers = {invoice(api, i["id"])["number"] for i in (at_draft, at_issuing)}
    assert len(numbers) == 2 and not any(n.startswith("DRAFT-") for n in numbers)


def test_numbers_of_billhooks_own_sequence_are_reserved(api: Api) -> None:
    """An integration number like INV-000001 would collide with a sequence some day: refused, nothing changed."""
    _, profile, cust = _both_hooks(api)
    inv = bill(api, cust["id"])
    for number in ("INV-000001", "INV-0000123", f"INV-{profile['id']}-000001"):
        problem(
            api.post(_draft_url(inv), {"invoicing": {"invoiceNumber": number}}), 400, field="invoicing.invoiceNumber"
        )
    assert state(api, inv["id"]) == "draft.syncing"
    assert api.post(_draft_url(inv), {}).status_code == 204
    problem(
        api.post(_issuing_url(inv), {"invoicing": {"invoiceNumber": "INV-000002"}}),
        400,
        field="invoicing.invoiceNumber",
    )
    assert api.post(_issuing_url(inv), {"invoicing": {"invoiceNumber": "INV-2026-01"}}).status_code == 204
    assert invoice(api, inv["id"])["number"] == "INV-2026-01"  # not the sequence's shape: the integration's own

    # the default profile's sequence is untouched by it
    plain = customer(api, "plain")
    assert bill(api, plain["id"])["number"] == "INV-000001"
