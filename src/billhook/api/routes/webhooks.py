"""Webhook endpoints, deliveries with their attempts, and the event log."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from billhook.api.context import Ctx, context
from billhook.api.models import Delivery, DeliveryList, Endpoint, EndpointIn, EndpointList, EventList, EventType
from billhook.api.problems import responses
from billhook.services import webhooks
from billhook.services.common import Page

router = APIRouter(tags=["Webhooks"])
PageQ = Query(1, ge=1, le=1_000_000)
SizeQ = Query(100, ge=1, le=1000)


@router.post("/webhooks/endpoints", status_code=201, response_model=Endpoint, responses=responses())
async def create_endpoint(body: EndpointIn, ctx: Ctx = Depends(context)) -> Any:
    allow = ctx.runtime.settings.allow_private_webhooks
    return await ctx.write(webhooks.create_endpoint, body.data(), allow_private=allow)


@router.get("/webhooks/endpoints", response_model=EndpointList, responses=responses())
async def list_endpoints(page: int = PageQ, pageSize: int = SizeQ, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(webhooks.list_endpoints, Page(page, pageSize))


@router.get("/webhooks/endpoints/{id}", response_model=Endpoint, responses=responses(404))
async def get_endpoint(id: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(webhooks.get_endpoint, id)


@router.put("/webhooks/endpoints/{id}", response_model=Endpoint, responses=responses(404))
async def update_endpoint(id: str, body: EndpointIn, ctx: Ctx = Depends(context)) -> Any:
    allow = ctx.runtime.settings.allow_private_webhooks
    return await ctx.write(webhooks.replace_endpoint, id, body.data(), allow_private=allow)


@router.delete("/webhooks/endpoints/{id}", status_code=204, responses=responses(404))
async def delete_endpoint(id: str, ctx: Ctx = Depends(context)) -> Response:
    await ctx.write(webhooks.delete_endpoint, id)
    return Response(status_code=204)


@router.post("/webhooks/endpoints/{id}/rotate-secret", response_model=Endpoint, responses=responses(404))
async def rotate_secret(id: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(webhooks.rotate_secret, id)


@router.get("/webhooks/deliveries", response_model=DeliveryList, responses=responses())
async def list_deliveries(
    page: int = PageQ,
    pageSize: int = SizeQ,
    endpointId: str | None = Query(None, max_length=64),
    eventType: EventType | None = None,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    subjectId: str | None = Query(None, max_length=64),
    eventId: str | None = Query(None, max_length=64),
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.read(
        webhooks.list_deliveries,
        Page(page, pageSize),
        endpoint_id=endpointId,
        event_type=eventType,
        status=status,
        subject_id=subjectId,
        event_id=eventId,
    )


@router.get("/webhooks/deliveries/{id}", response_model=Delivery, responses=responses(404))
async def get_delivery(id: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(webhooks.get_delivery, id)


@router.post("/webhooks/deliveries/{id}/redeliver", response_model=Delivery, responses=responses(404))
async def redeliver(id: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(webhooks.redeliver, id)


@router.get("/events", response_model=EventList, responses=responses())
async def list_events(
    page: int = PageQ,
    pageSize: int = SizeQ,
    type: EventType | None = None,
    subjectId: str | None = Query(None, max_length=64),
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.read(webhooks.list_events, Page(page, pageSize), type_=type, subject_id=subjectId)
