"""The Custom Invoicing flow driven through the official OpenMeter Python SDK against `billhook serve`.

Everything goes through ``openmeter.Client`` except the invoice history (billhook's own endpoint). Every
response the SDK receives is checked by the strict checker on the way in (see conftest.Recorder); the
tests also check the models they act on, and assert statuses and amounts exactly.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openmeter.models as M
import pytest
from corehttp.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.sdk.conftest import Server
from tests.sdk.strict import check

pytestmark = pytest.mark.slow

NOW = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
MARCH = M.Period(from_property=datetime(2026, 3, 1, tzinfo=UTC), to=datetime(2026, 3, 30, tzinfo=UTC))
DUE = datetime(2026, 3, 30, tzinfo=UTC)  # the lines' invoiceAt: already due by the test clock's now
_keys = itertools.count(1)

# what an invoice goes through from "invoice now" when nothing holds it
TO_DRAFT_SYNCING = [
    ("gathering", "draft.created", "invoice"),
    ("draft.created", "draft.outstanding", "next"),
    ("draft.outstanding", "draft.validating", "next"),
    ("draft.validating", "draft.syncing", "next"),
]
DRAFT_SYNCING_TO_ISSUING = [
    ("draft.waiting_auto_approval", "draft.ready_to_issue", "next"),
    ("draft.ready_to_issue", "issuing.syncing", "next"),
]
ISSUING_TO_PENDING = [("issued", "payment_processing.pending", "next")]


# ------------------------------------------------------------------------------------------------ helpers


def as_json(model: Any) -> Any:
    """The wire JSON behind an SDK model (models are dict-like; unions already come back as dicts)."""
    return model.as_dict() if hasattr(model, "as_dict") else model


def strict(type_name: str, model: Any) -> Any:
    data = as_json(model)
    assert check(type_name, data) == [], check(type_name, data)
    return data


def install(s: Server, *, draft: bool, issuing: bool) -> tuple[dict[str, Any], str]:
    """A custom invoicing app with its own billing profile, hooks set as asked: (app, profile id)."""
    name = f"Custom invoicing {next(_keys)}"
    res = s.client.marketplace.install(
        "custom_invoicing", M.MarketplaceInstallRequestPayload(name=name, create_billing_profile=True)
    )
    strict("MarketplaceInstallResponse", res)
    app = res.app
    assert isinstance(app, dict)  # the App union comes back as a plain dict
    assert (app["type"], app["name"], app["status"]) == ("custom_invoicing", name, "ready")
    assert (app["enableDraftSyncHook"], app["enableIssuingSyncHook"]) == (False, False)
    assert app["listing"]["type"] == "custom_invoicing"
    assert res.default_for_capability_types == []  # the new profile is not the default
    assert strict("App", s.client.apps.get(app["id"])) == app

    updated = s.client.apps.update(
        app["id"],
        M.CustomInvoicingAppReplaceUpdate(
            name=name, type="custom_invoicing", enable_draft_sync_hook=draft, enable_issuing_sync_hook=issuing
        ),
    )
    strict("App", updated)
    assert (updated["enableDraftSyncHook"], updated["enableIssuingSyncHook"]) == (draft, issuing)
    assert s.client.apps.get(app["id"]) == updated

    profiles = s.client.billing_profiles.list(page_size=1000)
    strict("BillingProfilePaginatedResponse", profiles)
    mine = [p for p in profiles.items_property if p.apps["invoicing"]["id"] == app["id"]]
    assert len(mine) == 1
    profile = strict("BillingProfile", s.client.billing_profiles.get(mine[0].id))
    assert profile["apps"] == {"tax": {"id": app["id"]}, "invoicing": {"id": app["id"]}, "payment": {"id": app["id"]}}
    assert profile["default"] is False
    return updated, profile["id"]


def new_customer(s: Server, profile_id: str | None) -> str:
    """A customer; pinned to ``profile_id`` with a customer override, or left on the default profile."""
    key = f"acme-{next(_keys)}"
    c = s.client.customers.create(
        M.CustomerCreate(
            name=f"Acme {key}",
            key=key,
            currency="USD",
            usage_attribution=M.CustomerUsageAttribution(subject_keys=[key]),
        )
    )
    strict("Customer", c)
    assert (c.key, c.currency, c.usage_attribution.subject_keys) == (key, "USD", [key])
    if profile_id is not None:
        o = s.client.customer_overrides.upsert(
            c.id, M.BillingProfileCustomerOverrideCreate(billing_profile_id=profile_id)
        )
        strict("BillingProfileCustomerOverrideWithDetails", o)
        assert o.base_billing_profile_id == profile_id
        assert (o.customer_override.customer_id, o.customer_override.billing_profile_id) == (c.id, profile_id)
        got = s.client.customer_overrides.get(c.id)
        assert strict("BillingProfileCustomerOverrideWithDetails", got) == as_json(o)
    return c.id


def flat_line(name: str, amount: str) -> M.InvoicePendingLineCreate:
    price = M.FlatPriceWithPaymentTerm(type="flat", amount=amount, payment_term="in_advance")
    return M.InvoicePendingLineCreate(name=name, period=MARCH, invoice_at=DUE, price=price)


def invoice_now(s: Server, customer_id: str, *amounts: str) -> M.Invoice:
    """Pending flat-fee lines for ``amounts``, invoiced now: the one invoice that makes."""
    lines = [flat_line(f"Fee {i + 1}", a) for i, a in enumerate(amounts)]
    created = s.client.customer_invoice.create_pending_invoice_line(
        customer_id, M.InvoicePendingLineCreateInput(currency="USD", lines=lines)
    )
    strict("InvoicePendingLineCreateResponse", created)
    assert created.is_invoice_new is True
    assert created.invoice.status == "gathering"
    assert [(ln.name, ln.totals.total, Decimal(ln.price["amount"])) for ln in created.lines] == [
        (f"Fee {i + 1}", a, Decimal(a)) for i, a in enumerate(amounts)
    ]
    invoices = s.client.invoices.invoice_pending_lines_action(M.InvoicePendingLinesActionInput(customer_id=customer_id))
    assert len(invoices) == 1
    inv = invoices[0]
    strict("Invoice", inv)
    assert inv.id == created.invoice.id
    assert inv.customer.id == customer_id
    assert inv.currency == "USD"
    return inv


def get(s: Server, invoice_id: str) -> M.Invoice:
    inv = s.client.invoice.get_invoice(invoice_id, expand=["lines"])
    assert strict("Invoice", inv) == s.recorder.last.json()  # the model is the wire JSON
    return inv


def state(inv: M.Invoice) -> tuple[str, str]:
    return inv.status, inv.status_details.extended_status


def history(s: Server, invoice_id: str) -> list[tuple[str, str, str, str]]:
    """(from, to, trigger, actor kind) per transition, from billhook's own history endpoint."""
    items = s.raw("GET", f"/billing/invoices/{invoice_id}/history")["items"]
    assert len({h["actor"].split(":", 1)[1] for h in items}) <= 1  # the one API key, as itself or as integration
    return [(h["from"], h["to"], h["trigger"], h["actor"].split(":", 1)[0]) for h in items]


def refused(s: Server, invoice_id: str, call: Any, exc: type[HttpResponseError], status: int) -> dict[str, Any]:
    """``call()`` fails with ``exc``/``status`` and leaves the invoice exactly as it was; returns the problem."""
    before, steps = as_json(get(s, invoice_id)), history(s, invoice_id)
    with pytest.raises(exc) as info:
        call()
    assert info.value.status_code == status
    problem = s.recorder.last.json()  # the SDK parses error bodies for some operations only
    assert problem["status"] == status
    assert as_json(get(s, invoice_id)) == before
    assert history(s, invoice_id) == steps
    return problem


def paid(s: Server, invoice_id: str) -> None:
    s.client.app_custom_invoicing.payment_status(
        invoice_id, M.CustomInvoicingUpdatePaymentStatusRequest(trigger="paid")
    )


def with_actor(steps: list[tuple[str, str, str]], actor: str) -> list[tuple[str, str, str, str]]:
    return [(*step, actor) for step in steps]


# ------------------------------------------------------------------------------------------------ tests


def test_marketplace_apps_and_overrides(server: Server) -> None:
    s = server
    listings = s.client.marketplace.list()
    strict("MarketplaceListingPaginatedResponse", listings)
    assert {item.type for item in listings.items_property} >= {"sandbox", "custom_invoicing"}
    listing = s.client.marketplace.get("custom_invoicing")
    strict("MarketplaceListing", listing)
    assert listing.install_methods == ["no_credentials_required"]

    app, profile_id = install(s, draft=True, issuing=False)
    apps = s.client.apps.list()
    strict("AppPaginatedResponse", apps)
    assert app in apps.items_property

    customer_id = new_customer(s, profile_id)
    pinned = s.client.customer_overrides.list(billing_profile=[profile_id])
    strict("BillingProfileCustomerOverrideWithDetailsPaginatedResponse", pinned)
    assert [o.customer_override.customer_id for o in pinned.items_property] == [customer_id]

    # without an override, a customer is billed by the default profile (the sandbox)
    other = new_customer(s, None)
    o = s.client.customer_overrides.get(other)
    strict("BillingProfileCustomerOverrideWithDetails", o)
    assert o.customer_override is None
    default = s.client.billing_profiles.get(o.base_billing_profile_id)
    assert default.default is True and default.apps["invoicing"]["id"] != app["id"]
    with pytest.raises(ResourceNotFoundError):
        s.client.apps.get("01NOSUCHAPP0000000000000000")


def test_hooks_off_goes_straight_to_payment(server: Server) -> None:
    s = server
    _, profile_id = install(s, draft=False, issuing=False)
    customer_id = new_customer(s, profile_id)
    inv = invoice_now(s, customer_id, "12.50", "7.25")

    assert state(inv) == ("payment_processing", "payment_processing.pending")
    assert inv.totals.total == "19.75" and inv.totals.amount == "19.75"
    assert inv.number.startswith("INV-")
    assert inv.workflow.source_billing_profile_id == profile_id
    assert inv.status_details.immutable is True
    assert inv.status_details.available_actions.void.resulting_state == "voided"
    assert [ln.totals.total for ln in get(s, inv.id).lines] == ["12.50", "7.25"]

    paid(s, inv.id)
    inv = get(s, inv.id)
    assert state(inv) == ("paid", "paid")
    assert inv.totals.total == "19.75"
    expected = [
        *with_actor(TO_DRAFT_SYNCING, "api_key"),
        ("draft.syncing", "draft.waiting_auto_approval", "next", "api_key"),
        *with_actor(DRAFT_SYNCING_TO_ISSUING, "api_key"),
        ("issuing.syncing", "issued", "next", "api_key"),
        *with_actor(ISSUING_TO_PENDING, "api_key"),
        ("payment_processing.pending", "paid", "paid", "integration"),
    ]
    assert history(s, inv.id) == expected

    paid(s, inv.id)  # the same status again: idempotent, nothing recorded
    assert history(s, inv.id) == expected
    failed = M.CustomInvoicingUpdatePaymentStatusRequest(trigger="payment_failed")
    refused(s, inv.id, lambda: s.client.app_custom_invoicing.payment_status(inv.id, failed), ResourceExistsError, 409)


def test_draft_hook_waits_for_the_draft_sync(server: Server) -> None:
    s = server
    _, profile_id = install(s, draft=True, issuing=False)
    customer_id = new_customer(s, profile_id)
    inv = invoice_now(s, customer_id, "12.50", "7.25")
    assert state(inv) == ("draft", "draft.syncing")
    assert inv.number.startswith("DRAFT-")
    assert inv.totals.total == "19.75"
    assert inv.status_details.immutable is False
    assert inv.status_details.available_actions.advance is None
    assert inv.status_details.available_actions.delete.resulting_state == "deleted"

    # the external system edits the draft while it syncs: still waiting for its sync result
    inv = get(s, inv.id)
    first, second = inv.lines
    body = M.InvoiceReplaceUpdate(
        supplier=M.BillingPartyReplaceUpdate(name="billhook"),
        customer=M.BillingPartyReplaceUpdate(name=inv.customer.name),
        lines=[
            M.InvoiceLineReplaceUpdate(
                id=first.id,
                name=first.name,
                period=MARCH,
                invoice_at=DUE,
                price=M.FlatPriceWithPaymentTerm(type="flat", amount="15.00", payment_term="in_advance"),
            ),
            M.InvoiceLineReplaceUpdate(
                id=second.id, name=second.name, period=MARCH, invoice_at=DUE, price=second.price
            ),
        ],
        workflow=M.InvoiceWorkflowReplaceUpdate(
            workflow=M.InvoiceWorkflowSettingsReplaceUpdate(
                invoicing=M.InvoiceWorkflowInvoicingSettingsReplaceUpdate(auto_advance=True),
                payment=M.BillingWorkflowPaymentSettings(collection_method="charge_automatically"),
            )
        ),
    )
    updated = s.client.invoice.update_invoice(inv.id, body)
    strict("Invoice", updated)
    assert state(updated) == ("draft", "draft.syncing")
    assert updated.totals.total == "22.25"
    assert [(ln.id, ln.totals.total) for ln in updated.lines] == [(first.id, "15.00"), (second.id, "7.25")]

    # a line id that is not on the invoice: 400, nothing changes
    wrong = M.CustomInvoicingDraftSynchronizedRequest(
        invoicing=M.CustomInvoicingSyncResult(
            invoice_number="CI-1001",
            external_id="ext-inv-1",
            line_external_ids=[M.CustomInvoicingLineExternalIdMapping(line_id="01NOTALINE", external_id="x")],
        )
    )
    problem = refused(
        s, inv.id, lambda: s.client.app_custom_invoicing.draft_syncronized(inv.id, wrong), HttpResponseError, 400
    )
    assert "invoicing.lineExternalIds[0].lineId" in str(problem)

    sync = M.CustomInvoicingDraftSynchronizedRequest(
        invoicing=M.CustomInvoicingSyncResult(
            invoice_number="CI-1001",
            external_id="ext-inv-1",
            line_external_ids=[
                M.CustomInvoicingLineExternalIdMapping(line_id=first.id, external_id="ext-line-1"),
                M.CustomInvoicingLineExternalIdMapping(line_id=second.id, external_id="ext-line-2"),
            ],
        )
    )
    s.client.app_custom_invoicing.draft_syncronized(inv.id, sync)
    inv = get(s, inv.id)
    assert state(inv) == ("payment_processing", "payment_processing.pending")
    assert inv.number == "CI-1001"
    assert inv.external_ids.invoicing == "ext-inv-1"
    assert [(ln.id, ln.external_ids.invoicing) for ln in inv.lines] == [
        (first.id, "ext-line-1"),
        (second.id, "ext-line-2"),
    ]
    assert inv.totals.total == "22.25"
    expected = [
        *with_actor(TO_DRAFT_SYNCING, "api_key"),
        ("draft.syncing", "draft.syncing", "update", "api_key"),
        ("draft.syncing", "draft.waiting_auto_approval", "draft_synced", "integration"),
        *with_actor(DRAFT_SYNCING_TO_ISSUING, "integration"),
        ("issuing.syncing", "issued", "next", "integration"),
        *with_actor(ISSUING_TO_PENDING, "integration"),
    ]
    assert history(s, inv.id) == expected

    # the same result again after the invoice moved on: accepted, nothing changes
    before = as_json(get(s, inv.id))
    s.client.app_custom_invoicing.draft_syncronized(inv.id, sync)
    assert as_json(get(s, inv.id)) == before
    assert history(s, inv.id) == expected
    # a different result now: refused
    other = M.CustomInvoicingDraftSynchronizedRequest(invoicing=M.CustomInvoicingSyncResult(invoice_number="CI-9"))
    refused(s, inv.id, lambda: s.client.app_custom_invoicing.draft_syncronized(inv.id, other), ResourceExistsError, 409)


def test_issuing_hook_waits_for_the_issuing_sync(server: Server) -> None:
    s = server
    _, profile_id = install(s, draft=False, issuing=True)
    customer_id = new_customer(s, profile_id)
    inv = invoice_now(s, customer_id, "99.99")
    assert state(inv) == ("issuing", "issuing.syncing")
    assert inv.totals.total == "99.99"
    assert inv.status_details.immutable is True

    sent = datetime(2026, 3, 30, 11, 30, tzinfo=UTC)
    body = M.CustomInvoicingFinalizedRequest(
        invoicing=M.CustomInvoicingFinalizedInvoicingRequest(invoice_number="CI-2001", sent_to_customer_at=sent),
        payment=M.CustomInvoicingFinalizedPaymentRequest(external_id="pay-2001"),
    )
    s.client.app_custom_invoicing.finalized(inv.id, body)
    inv = get(s, inv.id)
    assert state(inv) == ("payment_processing", "payment_processing.pending")
    assert inv.number == "CI-2001"
    assert inv.external_ids.payment == "pay-2001"
    assert inv.sent_to_customer_at == sent
    assert inv.issued_at == NOW
    assert inv.totals.total == "99.99"
    expected = [
        *with_actor(TO_DRAFT_SYNCING, "api_key"),
        ("draft.syncing", "draft.waiting_auto_approval", "next", "api_key"),
        *with_actor(DRAFT_SYNCING_TO_ISSUING, "api_key"),
        ("issuing.syncing", "issued", "issuing_synced", "integration"),
        *with_actor(ISSUING_TO_PENDING, "integration"),
    ]
    assert history(s, inv.id) == expected

    before = as_json(inv)
    s.client.app_custom_invoicing.finalized(inv.id, body)  # replayed: accepted, nothing changes
    assert as_json(get(s, inv.id)) == before
    assert history(s, inv.id) == expected


def test_both_hooks(server: Server) -> None:
    s = server
    _, profile_id = install(s, draft=True, issuing=True)
    customer_id = new_customer(s, profile_id)
    inv = invoice_now(s, customer_id, "0.10", "0.20")
    assert state(inv) == ("draft", "draft.syncing")
    assert inv.totals.total == "0.30"

    draft = M.CustomInvoicingDraftSynchronizedRequest(
        invoicing=M.CustomInvoicingSyncResult(invoice_number="CI-3001", external_id="ext-3001")
    )
    s.client.app_custom_invoicing.draft_syncronized(inv.id, draft)
    inv = get(s, inv.id)
    assert state(inv) == ("issuing", "issuing.syncing")
    assert (inv.number, inv.external_ids.invoicing) == ("CI-3001", "ext-3001")

    s.client.app_custom_invoicing.finalized(
        inv.id, M.CustomInvoicingFinalizedRequest(payment=M.CustomInvoicingFinalizedPaymentRequest(external_id="p-1"))
    )
    inv = get(s, inv.id)
    assert state(inv) == ("payment_processing", "payment_processing.pending")
    assert (inv.number, inv.external_ids.invoicing, inv.external_ids.payment) == ("CI-3001", "ext-3001", "p-1")

    trigger = M.CustomInvoicingUpdatePaymentStatusRequest(trigger="payment_failed")
    s.client.app_custom_invoicing.payment_status(inv.id, trigger)
    assert state(get(s, inv.id)) == ("payment_processing", "payment_processing.failed")
    paid(s, inv.id)
    inv = get(s, inv.id)
    assert state(inv) == ("paid", "paid")
    assert inv.totals.total == "0.30"
    assert history(s, inv.id)[len(TO_DRAFT_SYNCING) :] == [
        ("draft.syncing", "draft.waiting_auto_approval", "draft_synced", "integration"),
        *with_actor(DRAFT_SYNCING_TO_ISSUING, "integration"),
        ("issuing.syncing", "issued", "issuing_synced", "integration"),
        *with_actor(ISSUING_TO_PENDING, "integration"),
        ("payment_processing.pending", "payment_processing.failed", "payment_failed", "integration"),
        ("payment_processing.failed", "paid", "paid", "integration"),
    ]


@pytest.mark.parametrize(
    ("triggers", "final"),
    [
        (["paid"], ("paid", "paid")),
        (["payment_failed", "paid"], ("paid", "paid")),
        (["payment_uncollectible", "void"], ("voided", "voided")),
        (["void"], ("voided", "voided")),
        (["action_required", "paid"], ("paid", "paid")),
        (["payment_overdue", "payment_uncollectible", "paid"], ("paid", "paid")),
    ],
)
def test_payment_status_triggers(server: Server, triggers: list[str], final: tuple[str, str]) -> None:
    s = server
    _, profile_id = install(s, draft=False, issuing=False)
    inv = invoice_now(s, new_customer(s, profile_id), "40.00")
    steps = len(history(s, inv.id))
    for trigger in triggers:
        s.client.app_custom_invoicing.payment_status(
            inv.id, M.CustomInvoicingUpdatePaymentStatusRequest(trigger=trigger)
        )
    inv = get(s, inv.id)
    assert state(inv) == final
    assert inv.totals.total == "40.00"
    after = history(s, inv.id)
    assert [(t, a) for _, _, t, a in after[steps:]] == [(t, "integration") for t in triggers]
    if final[0] == "voided":
        assert inv.voided_at == NOW
    # a trigger the state does not allow: 409, nothing changes
    again = M.CustomInvoicingUpdatePaymentStatusRequest(trigger="payment_failed")
    refused(s, inv.id, lambda: s.client.app_custom_invoicing.payment_status(inv.id, again), ResourceExistsError, 409)


def test_sandbox_invoice_refuses_custom_invoicing_calls(server: Server) -> None:
    s = server
    customer_id = new_customer(s, None)
    inv = invoice_now(s, customer_id, "5.00")
    assert state(inv) == ("paid", "paid")  # the sandbox issues and settles by itself
    assert inv.totals.total == "5.00"
    calls = [
        lambda: s.client.app_custom_invoicing.draft_syncronized(inv.id, M.CustomInvoicingDraftSynchronizedRequest()),
        lambda: s.client.app_custom_invoicing.finalized(inv.id, M.CustomInvoicingFinalizedRequest()),
        lambda: paid(s, inv.id),
    ]
    for call in calls:
        refused(s, inv.id, call, ResourceExistsError, 409)
    with pytest.raises(ResourceNotFoundError):
        paid(s, "01NOSUCHINVOICE000000000000")


def _profile(s: Server, app_id: str, invoicing: dict[str, Any]) -> str:
    created = s.client.billing_profiles.create(
        M.BillingProfileCreate(
            name=f"Profile {next(_keys)}",
            supplier=M.BillingParty(name="billhook"),
            default=False,
            workflow=M.BillingWorkflowCreate(invoicing=M.BillingWorkflowInvoicingSettings(**invoicing)),
            apps=M.BillingProfileAppsCreate(tax=app_id, invoicing=app_id, payment=app_id),
        )
    )
    strict("BillingProfile", created)
    assert created.workflow.invoicing.auto_advance is invoicing.get("auto_advance", True)
    return created.id


def test_invoice_actions_and_listing(server: Server) -> None:
    s = server
    app, _ = install(s, draft=False, issuing=False)
    manual = _profile(s, app["id"], {"auto_advance": False})
    waiting = _profile(s, app["id"], {"draft_period": "P1D"})
    customer_id = new_customer(s, manual)

    # manual approval: approve, or delete
    a = invoice_now(s, customer_id, "10.00")
    assert state(a) == ("draft", "draft.manual_approval_needed")
    assert a.status_details.available_actions.approve.resulting_state == "draft.ready_to_issue"
    refused(s, a.id, lambda: s.client.invoice.advance_action(a.id), ResourceExistsError, 409)
    approved = s.client.invoice.approve_action(a.id)
    strict("Invoice", approved)
    assert state(approved) == ("payment_processing", "payment_processing.pending")
    assert approved.totals.total == "10.00"

    b = invoice_now(s, customer_id, "20.00")
    assert state(b) == ("draft", "draft.manual_approval_needed")
    s.client.invoice.delete_invoice(b.id)
    deleted = get(s, b.id)
    assert (state(deleted), deleted.deleted_at) == (("draft", "deleted"), NOW)
    with pytest.raises(ResourceExistsError):
        s.client.invoice.approve_action(b.id)

    # a draft period: advance skips the wait
    s.client.customer_overrides.upsert(customer_id, M.BillingProfileCustomerOverrideCreate(billing_profile_id=waiting))
    c = invoice_now(s, customer_id, "30.00")
    assert state(c) == ("draft", "draft.waiting_auto_approval")
    assert c.draft_until == datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    advanced = s.client.invoice.advance_action(c.id)
    strict("Invoice", advanced)
    assert state(advanced) == ("payment_processing", "payment_processing.pending")

    # payment failed: retry puts it back to pending; void ends it
    s.client.app_custom_invoicing.payment_status(
        c.id, M.CustomInvoicingUpdatePaymentStatusRequest(trigger="payment_failed")
    )
    failed = get(s, c.id)
    assert failed.status_details.failed is True
    assert failed.status_details.available_actions.retry.resulting_state == "payment_processing.pending"
    retried = s.client.invoice.retry_action(c.id)
    strict("Invoice", retried)
    assert state(retried) == ("payment_processing", "payment_processing.pending")
    void = M.VoidInvoiceActionInput(
        action=M.VoidInvoiceAction(percentage=100, action=M.VoidInvoiceLineDiscardAction(type="discard")),
        reason="issued by mistake",
    )
    voided = s.client.invoice.void_invoice_action(c.id, void)
    strict("Invoice", voided)
    assert state(voided) == ("voided", "voided")
    assert voided.totals.total == "30.00"
    refused(s, c.id, lambda: s.client.invoice.void_invoice_action(c.id, void), ResourceExistsError, 409)

    # listing, filtered by status; lines only with expand
    listed = s.client.invoices.list(customers=[customer_id], statuses=["payment_processing", "voided"])
    strict("InvoicePaginatedResponse", listed)
    assert sorted((i.id, i.status) for i in listed.items_property) == sorted(
        [(a.id, "payment_processing"), (c.id, "voided")]
    )
    assert all(i.lines is None for i in listed.items_property)
    with_lines = s.client.invoices.list(customers=[customer_id], statuses=["voided"], expand=["lines"])
    strict("InvoicePaginatedResponse", with_lines)
    assert [[ln.totals.total for ln in i.lines] for i in with_lines.items_property] == [["30.00"]]
    assert s.client.invoices.list(customers=[customer_id], statuses=["paid"]).items_property == []
    # the SDK's ordering and date bounds are applied, not ignored
    oldest = s.client.invoices.list(customers=[customer_id], order_by="createdAt", order="ASC").items_property
    newest = s.client.invoices.list(customers=[customer_id], order_by="createdAt", order="DESC").items_property
    assert len(oldest) >= 2 and [i.id for i in newest] == [i.id for i in oldest][::-1]
    assert [i.created_at for i in oldest] == sorted(i.created_at for i in oldest)
    later = datetime(2100, 1, 1, tzinfo=UTC)
    assert s.client.invoices.list(customers=[customer_id], created_after=later).items_property == []
    assert len(s.client.invoices.list(customers=[customer_id], created_before=later).items_property) == len(oldest)
