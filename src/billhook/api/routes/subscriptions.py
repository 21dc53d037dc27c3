"""Subscriptions, tracked item quantities, custom charges and the outstanding invoice."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from billhook.api.context import Ctx, context
from billhook.api.models import (
    CancelIn,
    ChargeCreate,
    CustomCharge,
    CustomCharges,
    Invoice,
    ItemQuantity,
    QuantityChange,
    QuantitySet,
    Subscription,
    SubscriptionIn,
    SubscriptionItems,
    SubscriptionList,
)
from billhook.api.problems import responses
from billhook.services import charges, items, outstanding, subscriptions
from billhook.services.common import Page

router = APIRouter(tags=["Subscriptions"])


@router.post("/subscriptions", status_code=201, response_model=Subscription, responses=responses(409))
async def create_subscription(body: SubscriptionIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(subscriptions.create, body.data())


@router.get("/subscriptions", response_model=SubscriptionList, responses=responses(404))
async def list_subscriptions(
    page: int = Query(1, ge=1, le=1_000_000),
    pageSize: int = Query(100, ge=1, le=1000),
    customer: str | None = Query(None, max_length=256),
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.read(subscriptions.list_, Page(page, pageSize), customer=customer)


@router.get("/subscriptions/{subscriptionId}", response_model=Subscription, responses=responses(404))
async def get_subscription(subscriptionId: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(subscriptions.get, subscriptionId)


@router.post("/subscriptions/{subscriptionId}/cancel", response_model=Subscription, responses=responses(404, 409))
async def cancel_subscription(subscriptionId: str, body: CancelIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(subscriptions.cancel, subscriptionId, body.timing)


@router.get("/subscriptions/{subscriptionId}/items", response_model=SubscriptionItems, responses=responses(404))
async def list_items(subscriptionId: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(items.list_, subscriptionId)


@router.put(
    "/subscriptions/{subscriptionId}/items/{itemKey}/quantity",
    response_model=ItemQuantity,
    responses=responses(404, 409),
)
async def set_item_quantity(subscriptionId: str, itemKey: str, body: QuantitySet, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(items.change, subscriptionId, itemKey, "set", body.quantity, body.invoicePeriod)


@router.post(
    "/subscriptions/{subscriptionId}/items/{itemKey}/quantity/{op}",
    response_model=ItemQuantity,
    responses=responses(404, 409),
)
async def change_item_quantity(
    subscriptionId: str,
    itemKey: str,
    op: Literal["add", "remove"],
    body: QuantityChange,
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.write(items.change, subscriptionId, itemKey, op, body.quantity, body.invoicePeriod)


@router.post(
    "/subscriptions/{subscriptionId}/charges",
    status_code=201,
    response_model=CustomCharge,
    responses=responses(404, 409),
)
async def add_charge(subscriptionId: str, body: ChargeCreate, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(charges.add, subscriptionId, body.data())


@router.get("/subscriptions/{subscriptionId}/charges", response_model=CustomCharges, responses=responses(404))
async def list_charges(
    subscriptionId: str,
    invoicePeriod: Literal["current", "outstanding"] | None = None,
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.read(charges.list_, subscriptionId, invoicePeriod)


@router.delete("/subscriptions/{subscriptionId}/charges/{chargeId}", status_code=204, responses=responses(404, 409))
async def delete_charge(subscriptionId: str, chargeId: str, ctx: Ctx = Depends(context)) -> Response:
    await ctx.write(charges.remove, subscriptionId, chargeId)
    return Response(status_code=204)


@router.get("/subscriptions/{subscriptionId}/outstanding-invoice", response_model=Invoice, responses=responses(404))
async def get_outstanding_invoice(subscriptionId: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(outstanding.get, subscriptionId)


@router.post(
    "/subscriptions/{subscriptionId}/outstanding-invoice/run",
    response_model=Invoice,
    responses=responses(404, 409),
)
async def run_outstanding_invoice(subscriptionId: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(outstanding.run, subscriptionId)
