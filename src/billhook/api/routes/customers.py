"""Customers: OpenMeter's paths and shapes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from billhook.api.context import Ctx, context
from billhook.api.models import Customer, CustomerIn, CustomerList
from billhook.api.problems import responses
from billhook.services import customers
from billhook.services.common import Page

router = APIRouter(tags=["Customers"])


@router.post("/customers", status_code=201, response_model=Customer, responses=responses(409))
async def create_customer(body: CustomerIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(customers.create, body.data())


@router.get("/customers", response_model=CustomerList, responses=responses())
async def list_customers(
    page: int = Query(1, ge=1, le=1_000_000),
    pageSize: int = Query(100, ge=1, le=1000),
    includeDeleted: bool = False,
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.read(customers.list_, Page(page, pageSize), include_deleted=includeDeleted)


@router.get("/customers/{customerIdOrKey}", response_model=Customer, responses=responses(404))
async def get_customer(customerIdOrKey: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(customers.get, customerIdOrKey)


@router.put("/customers/{customerIdOrKey}", response_model=Customer, responses=responses(404, 409))
async def update_customer(customerIdOrKey: str, body: CustomerIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(customers.replace, customerIdOrKey, body.data())


@router.delete("/customers/{customerIdOrKey}", status_code=204, responses=responses(404, 409))
async def delete_customer(customerIdOrKey: str, ctx: Ctx = Depends(context)) -> Response:
    await ctx.write(customers.delete, customerIdOrKey)
    return Response(status_code=204)
