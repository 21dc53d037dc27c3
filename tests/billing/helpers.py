"""Shared steps for the billing tests: apps, profiles, overrides, pending lines and invoice look-ups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.conftest import Api

PAST_FROM = "2026-03-01T00:00:00Z"
PAST_TO = "2026-03-30T00:00:00Z"
PAST_AT = "2026-03-30T00:00:00Z"  # before the test clock's start (2026-03-30T12:00Z): due now


def install(api: Api, app_type: str = "custom_invoicing", **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.post(f"/marketplace/listings/{app_type}/install", body))
    return result["app"]


def set_hooks(api: Api, app: dict[str, Any], *, draft: bool = False, issuing: bool = False) -> dict[str, Any]:
    body = {"name": app["name"], "enableDraftSyncHook": draft, "enableIssuingSyncHook": issuing}
    result: dict[str, Any] = api.ok(api.put(f"/apps/{app['id']}", body))
    return result


def default_profile(api: Api) -> dict[str, Any]:
    (profile,) = [p for p in api.ok(api.get("/billing/profiles"))["items"] if p["default"]]
    return profile


def sandbox_app_id(api: Api) -> str:
    app_id: str = default_profile(api)["apps"]["invoicing"]["id"]
    return app_id


def profile_body(app_id: str, *, name: str = "Custom", invoicing: dict[str, Any] | None = None, **extra: Any) -> dict:
    return {
        "name": name,
        "supplier": {"name": "Supplier Ltd", "addresses": [{"country": "DE", "city": "Berlin"}]},
        "workflow": {"invoicing": invoicing or {}, "payment": {"collectionMethod": "send_invoice"}},
        "apps": {"tax": app_id, "invoicing": app_id, "payment": app_id},
        **extra,
    }


def create_profile(api: Api, app_id: str, **kw: Any) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.post("/billing/profiles", profile_body(app_id, **kw)), 201)
    return result


def customer(api: Api, key: str, currency: str = "EUR") -> dict[str, Any]:
    result: dict[str, Any] = api.ok(
        api.post("/customers", {"key": key, "name": key.title(), "currency": currency}), 201
    )
    return result


def pin(api: Api, customer_id: str, profile_id: str, workflow: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"billingProfileId": profile_id}
    if workflow is not None:
        body["workflow"] = workflow
    result: dict[str, Any] = api.ok(api.put(f"/billing/customers/{customer_id}", body))
    return result


def line(
    name: str,
    amount: str,
    *,
    quantity: str | None = None,
    period_from: str = PAST_FROM,
    period_to: str = PAST_TO,
    invoice_at: str = PAST_AT,
    line_id: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "period": {"from": period_from, "to": period_to},
        "invoiceAt": invoice_at,
        "price": {"type": "flat", "amount": amount, "paymentTerm": "in_arrears"},
    }
    if quantity is not None:
        out["quantity"] = quantity
    if line_id is not None:
        out["id"] = line_id
    return out


def add_pending(api: Api, customer_id: str, *lines: dict[str, Any], currency: str = "EUR") -> dict[str, Any]:
    body = {"currency": currency, "lines": list(lines)}
    result: dict[str, Any] = api.ok(api.post(f"/billing/customers/{customer_id}/invoices/pending-lines", body), 201)
    return result


def invoice_now(api: Api, customer_id: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.ok(api.post("/billing/invoices/invoice", {"customerId": customer_id}), 201)
    return result


def bill(api: Api, customer_id: str, *lines: dict[str, Any]) -> dict[str, Any]:
    """Add pending lines due now and invoice them: the one invoice they make, as it stands afterwards."""
    add_pending(api, customer_id, *(lines or (line("Setup fee", "100.00"),)))
    (inv,) = invoice_now(api, customer_id)
    return inv


def invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    result: dict[str, Any] = api.ok(api.get(f"/billing/invoices/{invoice_id}"))
    return result


def state(api: Api, invoice_id: str) -> str:
    extended: str = invoice(api, invoice_id)["statusDetails"]["extendedStatus"]
    return extended


def history(api: Api, invoice_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.ok(api.get(f"/billing/invoices/{invoice_id}/history"))["items"]
    return items


def path(api: Api, invoice_id: str) -> list[str]:
    """The statuses the invoice went through, in order, from its first transition."""
    items = history(api, invoice_id)
    return [items[0]["from"], *(h["to"] for h in items)] if items else []


def customer_invoices(api: Api, customer_id: str, **params: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in {"customers": customer_id, "pageSize": "1000", **params}.items())
    items: list[dict[str, Any]] = api.ok(api.get(f"/billing/invoices?{query}&expand=lines"))["items"]
    return items


def events(runtime: Any, type_: str, subject_id: str | None = None) -> list[dict[str, Any]]:
    """Events of a type from the outbox (newest last)."""
    from billhook.store.schema import events as events_t

    with runtime.uows.write() as uow:
        q = select(events_t).where(events_t.c.type == type_).order_by(events_t.c.occurred_at, events_t.c.id)
        if subject_id is not None:
            q = q.where(events_t.c.subject_id == subject_id)
        return [dict(r._mapping) for r in uow.conn.execute(q)]


def custom_setup(
    api: Api,
    key: str = "acme",
    *,
    invoicing: dict[str, Any] | None = None,
    draft_hook: bool = False,
    issuing_hook: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A custom invoicing app (hooks as given), a profile using it, and a customer pinned to it."""
    app = install(api)
    if draft_hook or issuing_hook:
        app = set_hooks(api, app, draft=draft_hook, issuing=issuing_hook)
    profile = create_profile(api, app["id"], invoicing=invoicing)
    cust = customer(api, key)
    pin(api, cust["id"], profile["id"])
    return app, profile, cust
