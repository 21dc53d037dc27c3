"""Billing profiles, customer overrides, pending lines and invoicing them now (OpenMeter's paths)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from billhook.api.context import Ctx, context
from billhook.api.models import (
    BillingProfile,
    CustomerOverride,
    Invoice,
    InvoiceNowIn,
    OverrideIn,
    OverrideList,
    PendingLinesIn,
    PendingLinesOut,
    ProfileCreate,
    ProfileIn,
    ProfileList,
)
from billhook.api.problems import responses
from billhook.services import overrides, pending_lines, profiles
from billhook.services.common import Page

router = APIRouter(tags=["Billing"])


@router.post("/billing/profiles", status_code=201, response_model=BillingProfile, responses=responses(409))
async def create_profile(body: ProfileCreate, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(profiles.create, body.data())


@router.get("/billing/profiles", response_model=ProfileList, responses=responses())
async def list_profiles(
    page: int = Query(1, ge=1, le=1_000_000),
    pageSize: int = Query(100, ge=1, le=1000),
    includeArchived: bool = False,
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.write(
        lambda uow, actor: profiles.list_(uow, actor.namespace, Page(page, pageSize), include_archived=includeArchived)
    )


@router.get("/billing/profiles/{id}", response_model=BillingProfile, responses=responses(404))
async def get_profile(id: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(profiles.get, id)


@router.put("/billing/profiles/{id}", response_model=BillingProfile, responses=responses(404, 409))
async def update_profile(id: str, body: ProfileIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(profiles.replace, id, body.data())


@router.delete("/billing/profiles/{id}", status_code=204, responses=responses(404, 409))
async def delete_profile(id: str, ctx: Ctx = Depends(context)) -> Response:
    await ctx.write(profiles.delete, id)
    return Response(status_code=204)


@router.get("/billing/customers", response_model=OverrideList, responses=responses())
async def list_overrides(
    page: int = Query(1, ge=1, le=1_000_000),
    pageSize: int = Query(100, ge=1, le=1000),
    billingProfile: list[str] = Query(default_factory=list, max_length=100),
    customerId: list[str] = Query(default_factory=list, max_length=100),
    includeAllCustomers: bool = False,
    expand: list[Literal["apps", "customer"]] = Query(default_factory=list),
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.write(
        lambda uow, actor: overrides.list_(
            uow,
            actor.namespace,
            Page(page, pageSize),
            billing_profiles=billingProfile,
            customer_ids=customerId,
            include_all_customers=includeAllCustomers,
            expand_customer="customer" in expand,
        )
    )


@router.get("/billing/customers/{customerId}", response_model=CustomerOverride, responses=responses(404))
async def get_override(
    customerId: str,
    expand: list[Literal["apps", "customer"]] = Query(default_factory=list),
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.write(
        lambda uow, actor: overrides.get(uow, actor.namespace, customerId, expand_customer="customer" in expand)
    )


@router.put("/billing/customers/{customerId}", response_model=CustomerOverride, responses=responses(404))
async def upsert_override(customerId: str, body: OverrideIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(overrides.upsert, customerId, body.data())


@router.delete("/billing/customers/{customerId}", status_code=204, responses=responses(404))
async def delete_override(customerId: str, ctx: Ctx = Depends(context)) -> Response:
    await ctx.write(overrides.remove, customerId)
    return Response(status_code=204)


@router.post(
    "/billing/customers/{customerId}/invoices/pending-lines",
    status_code=201,
    response_model=PendingLinesOut,
    responses=responses(404),
)
async def create_pending_lines(customerId: str, body: PendingLinesIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(pending_lines.create, customerId, body.data())


@router.post("/billing/invoices/invoice", status_code=201, response_model=list[Invoice], responses=responses(409))
async def invoice_pending_lines(body: InvoiceNowIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(pending_lines.invoice_now, body.data())
