"""Invoices: OpenMeter's billing paths."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime

from billhook.api.context import Ctx, context
from billhook.api.models import Invoice, InvoiceHistory, InvoiceList, InvoiceReplace, VoidIn
from billhook.api.problems import responses
from billhook.services import invoice_edit, invoice_queries
from billhook.services.common import Page

router = APIRouter(tags=["Invoices"])


@router.get("/billing/invoices", response_model=InvoiceList, responses=responses(404))
async def list_invoices(
    page: int = Query(1, ge=1, le=1_000_000),
    pageSize: int = Query(100, ge=1, le=1000),
    customers: list[str] = Query(default_factory=list, max_length=100),
    statuses: list[str] = Query(default_factory=list, max_length=20),
    extendedStatuses: list[str] = Query(default_factory=list, max_length=30),
    issuedAfter: AwareDatetime | None = None,
    issuedBefore: AwareDatetime | None = None,
    periodStartAfter: AwareDatetime | None = None,
    periodStartBefore: AwareDatetime | None = None,
    createdAfter: AwareDatetime | None = None,
    createdBefore: AwareDatetime | None = None,
    includeDeleted: bool = False,
    subscription: str | None = Query(None, max_length=64),
    expand: list[Literal["lines", "preceding"]] = Query(default_factory=list),
    orderBy: Literal["createdAt", "updatedAt", "issuedAt", "periodStart", "status", "customer.name"] | None = None,
    order: Literal["ASC", "DESC"] | None = None,
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.read(
        invoice_queries.list_,
        Page(page, pageSize),
        customers_=customers,
        statuses=statuses,
        extended_statuses=extendedStatuses,
        issued_after=issuedAfter,
        issued_before=issuedBefore,
        period_start_after=periodStartAfter,
        period_start_before=periodStartBefore,
        created_after=createdAfter,
        created_before=createdBefore,
        include_deleted=includeDeleted,
        subscription=subscription,
        expand_lines="lines" in expand,
        order_by=orderBy,
        order=order,
    )


@router.get("/billing/invoices/{invoiceId}", response_model=Invoice, responses=responses(404))
async def get_invoice(invoiceId: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(invoice_queries.get, invoiceId)


@router.get("/billing/invoices/{invoiceId}/history", response_model=InvoiceHistory, responses=responses(404))
async def get_invoice_history(invoiceId: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(invoice_queries.history, invoiceId)


@router.put("/billing/invoices/{invoiceId}", response_model=Invoice, responses=responses(404, 409))
async def update_invoice(invoiceId: str, body: InvoiceReplace, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(invoice_edit.replace, invoiceId, body.data())


@router.post("/billing/invoices/{invoiceId}/void", response_model=Invoice, responses=responses(404, 409))
async def void_invoice(invoiceId: str, body: VoidIn | None = None, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(invoice_queries.void, invoiceId, body.data() if body is not None else {})


@router.delete("/billing/invoices/{invoiceId}", status_code=204, responses=responses(404, 409))
async def delete_invoice(invoiceId: str, ctx: Ctx = Depends(context)) -> Response:
    await ctx.write(invoice_queries.delete, invoiceId)
    return Response(status_code=204)


def _action(name: str) -> None:
    async def handler(invoiceId: str, ctx: Ctx = Depends(context)) -> Any:
        return await ctx.write(invoice_queries.act, invoiceId, name)

    handler.__name__ = f"{name}_invoice"
    router.add_api_route(
        f"/billing/invoices/{{invoiceId}}/{name}",
        handler,
        methods=["POST"],
        response_model=Invoice,
        responses=responses(404, 409),
        summary=f"{name.capitalize()} an invoice",
    )


for _name in ("advance", "approve", "retry"):
    _action(_name)
