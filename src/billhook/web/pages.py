"""The dashboard's pages and form actions. Handlers translate HTTP to service calls, nothing more."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from billhook.domain.lifecycle import S, T
from billhook.errors import BillhookError
from billhook.runtime import Runtime
from billhook.services import (
    charges,
    customers,
    holds,
    invoice_queries,
    invoices,
    items,
    lifecycle,
    outstanding,
    overrides,
    reports,
    subscriptions,
    test_clock,
    webhooks,
)
from billhook.services.common import Actor, Page
from billhook.store.uow import UnitOfWork
from billhook.web import charts, session

R = TypeVar("R")
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
ACTIONS = {"approve": T.APPROVE, "advance": T.ADVANCE, "retry": T.RETRY, "void": T.VOID, "delete": T.DELETE}
CONFIRM = {
    "approve": "Approve / run this invoice now?",
    "advance": "Advance this invoice to its next state?",
    "retry": "Retry the failed step?",
    "void": "Void this invoice? This cannot be undone.",
    "delete": "Delete this draft? This cannot be undone.",
}


def _rt(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _read(request: Request, fn: Callable[[UnitOfWork, Actor], R]) -> R:
    actor = session.actor(request, _rt(request))
    with _rt(request).uows(namespace=actor.namespace) as uow:
        return fn(uow, actor)


def _render(request: Request, template: str, actor: Actor, **context: Any) -> HTMLResponse:
    rt = _rt(request)
    clock = None
    if rt.settings.test_clock:  # the signed-in namespace's clock
        with rt.uows(readonly=True, namespace=actor.namespace) as uow:
            clock = test_clock.show(uow)
    return templates.TemplateResponse(
        request,
        template,
        {
            "actor": actor,
            "csrf": session.csrf_token(request),
            "flashes": session.take_flashes(request),
            "clock": clock,
            "confirm": CONFIRM,
            **context,
        },
    )


def _signed_in(request: Request, back: str | None = None) -> Actor | RedirectResponse:
    """The operator, or a redirect to sign in and then come back to ``back`` (a page: form actions are POST-only)."""
    try:
        return session.actor(request, _rt(request))
    except session.SignedOut:
        return RedirectResponse("/login?" + urlencode({"next": back or request.url.path}), status_code=303)


# ------------------------------------------------------------------------------------------ sign-in


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/invoices", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/invoices") -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"next": _local(next), "error": None})


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    form = await request.form()
    target = _local(str(form.get("next") or "/invoices"))
    try:
        session.sign_in(request, _rt(request), str(form.get("api_key", "")))
    except BillhookError:
        return templates.TemplateResponse(
            request, "login.html", {"next": target, "error": "That API key is not valid."}, status_code=401
        )
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    form = await request.form()
    try:
        session.check_csrf(request, form)
    except PermissionError:
        return RedirectResponse("/invoices", status_code=303)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _local(path: str) -> str:
    """Only redirect within the dashboard."""
    return path if path.startswith("/") and not path.startswith("//") else "/invoices"


# ------------------------------------------------------------------------------------------ invoices


@router.get("/invoices", response_class=HTMLResponse, response_model=None)
def invoice_list(
    request: Request, status: str = "", extendedStatus: str = "", customer: str = "", period: str = "", page: int = 1
) -> Response:
    actor = _signed_in(request)
    if isinstance(actor, RedirectResponse):
        return actor
    filters = {"status": status, "extendedStatus": extendedStatus, "customer": customer, "period": period}
    error = None
    with _rt(request).uows(namespace=actor.namespace) as uow:
        try:
            result = invoice_queries.list_(
                uow,
                actor.namespace,
                Page(max(page, 1), 50),
                customers_=[customer] if customer else [],
                statuses=[status] if status else [],
                extended_statuses=[extendedStatus] if extendedStatus else [],
                period=period or None,
            )
        except BillhookError as exc:
            error, result = exc.detail, {"items": [], "page": 1, "pageSize": 50, "totalCount": 0}
        rows = []
        for inv in result["items"]:
            row = invoices.load(uow, inv["id"])
            rows.append({"invoice": inv, "waiting": holds.waiting_for(uow, row)})
        revenue = reports.revenue_by_period(uow, actor.namespace)
        status_counts = reports.status_over_time(uow, actor.namespace)
    revenue_charts = [
        charts.bars(
            [(p["period"], Decimal(p["total"])) for p in series["points"]],
            f"Revenue invoiced per period ({series['currency']})",
            series["currency"],
        )
        for series in revenue["series"]
    ] or [charts.bars([], "Revenue invoiced per period")]
    status_chart = charts.stacked(
        [(p["period"], p["counts"]) for p in status_counts["points"]], "Invoices by status, by month created"
    )
    return _render(
        request,
        "invoices.html",
        actor,
        rows=rows,
        result=result,
        filters=filters,
        error=error,
        statuses=invoice_queries.STATUSES,
        extended=[s.value for s in S],
        revenue_charts=revenue_charts,
        status_chart=status_chart,
    )


@router.get("/invoices/{invoice_id}", response_class=HTMLResponse, response_model=None)
def invoice_page(request: Request, invoice_id: str) -> Response:
    actor = _signed_in(request)
    if isinstance(actor, RedirectResponse):
        return actor
    with _rt(request).uows(namespace=actor.namespace) as uow:
        try:
            inv = invoice_queries.get(uow, actor.namespace, invoice_id)
        except BillhookError:
            return _render(request, "missing.html", actor, what="invoice", ident=invoice_id)
        row = invoices.load(uow, invoice_id)
        history = invoices.history(uow, invoice_id)
        deliveries = webhooks.list_deliveries(uow, actor.namespace, Page(1, 100), subject_id=invoice_id)["items"]
        waiting = holds.waiting_for(uow, row)
    actions = [a for a in ACTIONS if a in inv["statusDetails"]["availableActions"]]
    return _render(
        request,
        "invoice.html",
        actor,
        inv=inv,
        history=history,
        deliveries=deliveries,
        waiting=waiting,
        actions=actions,
        results=inv["statusDetails"]["availableActions"],
    )


@router.post("/invoices/{invoice_id}/actions/{action}")
async def invoice_action(request: Request, invoice_id: str, action: str) -> RedirectResponse:
    back = RedirectResponse(f"/invoices/{invoice_id}", status_code=303)
    form = await request.form()
    actor = _signed_in(request, f"/invoices/{invoice_id}")
    if isinstance(actor, RedirectResponse):
        return actor
    try:
        session.check_csrf(request, form)
        if action not in ACTIONS:
            raise PermissionError(f"unknown action {action!r}")
        with _rt(request).uows.write(actor.namespace) as uow:
            if action == "delete":
                invoice_queries.delete(uow, actor, invoice_id)
            else:
                lifecycle.fire(uow, actor, invoice_id, ACTIONS[action])
        session.flash(request, "ok", f"{action}: done")
    except (BillhookError, PermissionError) as exc:
        detail = exc.detail if isinstance(exc, BillhookError) else str(exc)
        session.flash(request, "error", f"{action} refused: {detail}")
    return back


# ------------------------------------------------------------------------------------------ customers


@router.get("/customers", response_class=HTMLResponse, response_model=None)
def customer_list(request: Request, page: int = 1) -> Response:
    actor = _signed_in(request)
    if isinstance(actor, RedirectResponse):
        return actor
    result = _read(request, lambda uow, a: customers.list_(uow, a.namespace, Page(max(page, 1), 50)))
    return _render(request, "customers.html", actor, result=result)


@router.get("/customers/{customer_id}", response_class=HTMLResponse, response_model=None)
def customer_page(request: Request, customer_id: str) -> Response:
    actor = _signed_in(request)
    if isinstance(actor, RedirectResponse):
        return actor
    with _rt(request).uows(namespace=actor.namespace) as uow:
        try:
            customer = customers.get(uow, actor.namespace, customer_id)
        except BillhookError:
            return _render(request, "missing.html", actor, what="customer", ident=customer_id)
        profile = overrides.get(uow, actor.namespace, customer["id"])
        subs = []
        for sub in subscriptions.list_(uow, actor.namespace, Page(1, 100), customer=customer["id"])["items"]:
            out = None
            try:
                out = outstanding.get(uow, actor.namespace, sub["id"])
            except BillhookError:
                out = None
            subs.append(
                {
                    "sub": sub,
                    "items": items.list_(uow, actor.namespace, sub["id"])["items"],
                    "charges": charges.list_(uow, actor.namespace, sub["id"])["items"],
                    "outstanding": out,
                }
            )
        invs = invoice_queries.list_(uow, actor.namespace, Page(1, 100), customers_=[customer["id"]])["items"]
    return _render(request, "customer.html", actor, customer=customer, profile=profile, subs=subs, invoices=invs)


# ------------------------------------------------------------------------------------------ webhooks


@router.get("/webhooks", response_class=HTMLResponse, response_model=None)
def webhook_page(request: Request, status: str = "") -> Response:
    actor = _signed_in(request)
    if isinstance(actor, RedirectResponse):
        return actor
    with _rt(request).uows(namespace=actor.namespace) as uow:
        endpoints = webhooks.list_endpoints(uow, actor.namespace, Page(1, 100))["items"]
        health = {e["id"]: webhooks.endpoint_health(uow, e["id"]) for e in endpoints}
        deliveries = webhooks.list_deliveries(uow, actor.namespace, Page(1, 100), status=status or None)["items"]
    return _render(
        request, "webhooks.html", actor, endpoints=endpoints, health=health, deliveries=deliveries, status=status
    )


@router.post("/webhooks/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, delivery_id: str) -> RedirectResponse:
    return await _webhook_action(request, lambda uow, a: webhooks.redeliver(uow, a, delivery_id), "redelivery queued")


@router.post("/webhooks/endpoints/{endpoint_id}/rotate")
async def rotate(request: Request, endpoint_id: str) -> RedirectResponse:
    def go(uow: UnitOfWork, a: Actor) -> str:
        return str(webhooks.rotate_secret(uow, a, endpoint_id)["secret"])

    return await _webhook_action(request, go, "new secret (shown once; the old one signs for 24 h more): {}")


async def _webhook_action(request: Request, fn: Callable[[UnitOfWork, Actor], Any], message: str) -> RedirectResponse:
    form = await request.form()
    actor = _signed_in(request, "/webhooks")
    if isinstance(actor, RedirectResponse):
        return actor
    try:
        session.check_csrf(request, form)
        with _rt(request).uows.write(actor.namespace) as uow:
            result = fn(uow, actor)
        session.flash(request, "ok", message.format(result))
    except (BillhookError, PermissionError) as exc:
        session.flash(request, "error", f"refused: {exc.detail if isinstance(exc, BillhookError) else exc}")
    return RedirectResponse("/webhooks", status_code=303)


# ------------------------------------------------------------------------------------------ test clock


@router.post("/clock/advance")
async def advance_clock(request: Request) -> RedirectResponse:
    form = await request.form()
    back = _local(str(form.get("back") or "/invoices"))
    actor = _signed_in(request, back)
    if isinstance(actor, RedirectResponse):
        return actor
    rt = _rt(request)
    try:
        session.check_csrf(request, form)
        with rt.uows.write(actor.namespace) as uow:
            state = test_clock.advance(uow, by=str(form.get("by") or "P1D"))
        done = await anyio.to_thread.run_sync(rt.drainer().walk, actor.namespace)
        with rt.uows(readonly=True, namespace=actor.namespace) as uow:
            state = test_clock.show(uow)
        session.flash(
            request,
            "ok" if done else "error",
            f"clock of {actor.namespace} now {state['now']}"
            + ("" if done else f" (walking to {state['advancingTo']}: some work is still being processed)"),
        )
    except (BillhookError, PermissionError) as exc:
        session.flash(request, "error", f"refused: {exc.detail if isinstance(exc, BillhookError) else exc}")
    return RedirectResponse(back, status_code=303)
