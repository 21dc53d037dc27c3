"""The Custom Invoicing app's endpoints, keyed by invoice id; each answers 204 once the invoice has moved on."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from billhook.api.context import Ctx, context
from billhook.api.models import DraftSyncIn, IssuingSyncIn, PaymentStatusIn
from billhook.api.problems import responses
from billhook.services import custom_invoicing

router = APIRouter(prefix="/apps/custom-invoicing/{invoiceId}", tags=["Custom invoicing"])


@router.post("/draft/synchronized", status_code=204, responses=responses(404, 409))
async def draft_synchronized(invoiceId: str, body: DraftSyncIn, ctx: Ctx = Depends(context)) -> Response:
    await ctx.integration().write(custom_invoicing.draft_synchronized, invoiceId, body.data())
    return Response(status_code=204)


@router.post("/issuing/synchronized", status_code=204, responses=responses(404, 409))
async def issuing_synchronized(invoiceId: str, body: IssuingSyncIn, ctx: Ctx = Depends(context)) -> Response:
    await ctx.integration().write(custom_invoicing.issuing_synchronized, invoiceId, body.data())
    return Response(status_code=204)


@router.post("/payment/status", status_code=204, responses=responses(404, 409))
async def payment_status(invoiceId: str, body: PaymentStatusIn, ctx: Ctx = Depends(context)) -> Response:
    await ctx.integration().write(custom_invoicing.payment_status, invoiceId, body.trigger)
    return Response(status_code=204)
