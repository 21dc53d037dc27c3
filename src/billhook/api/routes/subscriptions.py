"""Subscriptions, tracked item quantities, custom charges and the outstanding invoice."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from billhook.api.context import Ctx, context
from billhook.api.models import (
    CancelIn,
    ChargeCreate,
    ChargeEdit,
    CustomCharge,
    CustomCharges,
    Invoice,
    InvoiceId,
    InvoicePeriod,
    ItemQuantity,
    OutstandingRun,
    QuantityChange,
    QuantitySet,
    Subscription,
    SubscriptionIn,
    SubscriptionItems,
    SubscriptionList,
)
from billhook.api.problems import responses
from billhook.errors import InvalidInput
from billhook.services import charges, items, outstanding, periods, subscriptions
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


def _one(name: str, in_body: str | None, in_query: str | None) -> str | None:
    if in_body is not None and in_query is not None and in_body != in_query:
        raise InvalidInput.on(name, f"the body says {in_body!r} and the query parameter {in_query!r}")
    return in_body if in_body is not None else in_query


class Addressed:
    """The invoice a request names. Cheddar's clients send ``invoicePeriod`` as a query parameter: billhook
    takes it there or in the body (and ``invoiceId`` likewise); the same value twice is fine, two
    different ones are a 400."""

    def __init__(
        self,
        invoicePeriod: Annotated[
            InvoicePeriod | None,
            Query(description="`outstanding`: a held invoice; any other value: the current period (or in the body)"),
        ] = None,
        invoiceId: Annotated[InvoiceId | None, Query(description="one held invoice (or in the body)")] = None,
    ) -> None:
        self.period = invoicePeriod
        self.invoice_id = invoiceId

    def named(self, body_period: str | None = None, body_invoice: str | None = None) -> periods.Address | None:
        """The address the request gives, with the body's; None when it gives none."""
        period = _one("invoicePeriod", body_period, self.period)
        invoice = _one("invoiceId", body_invoice, self.invoice_id)
        return None if period is None and invoice is None else periods.Address.of(period, invoice)

    def target(self, body_period: str | None, body_invoice: str | None) -> periods.Address:
        """The invoice an edit changes: the current period's unless the request names a held one."""
        return self.named(body_period, body_invoice) or periods.Address()


@router.put(
    "/subscriptions/{subscriptionId}/items/{itemKey}/quantity",
    response_model=ItemQuantity,
    responses=responses(404, 409),
)
async def set_item_quantity(
    subscriptionId: str,
    itemKey: str,
    body: QuantitySet,
    to: Addressed = Depends(),
    ctx: Ctx = Depends(context),
) -> Any:
    address = to.target(body.invoicePeriod, body.invoiceId)
    return await ctx.write(items.change, subscriptionId, itemKey, "set", body.quantity, address)


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
    to: Addressed = Depends(),
    ctx: Ctx = Depends(context),
) -> Any:
    address = to.target(body.invoicePeriod, body.invoiceId)
    return await ctx.write(items.change, subscriptionId, itemKey, op, body.quantity, address)


@router.post(
    "/subscriptions/{subscriptionId}/charges",
    status_code=201,
    response_model=CustomCharge,
    responses=responses(404, 409),
)
async def add_charge(
    subscriptionId: str, body: ChargeCreate, to: Addressed = Depends(), ctx: Ctx = Depends(context)
) -> Any:
    address = to.target(body.invoicePeriod, body.invoiceId)
    return await ctx.write(charges.add, subscriptionId, body.data(), address)


@router.get("/subscriptions/{subscriptionId}/charges", response_model=CustomCharges, responses=responses(404, 409))
async def list_charges(subscriptionId: str, of: Addressed = Depends(), ctx: Ctx = Depends(context)) -> Any:
    """The subscription's custom charges and credits: all of them; with ``invoicePeriod=outstanding``
    those of every held invoice; with another ``invoicePeriod`` the current period's; with ``invoiceId``
    those of that held invoice."""
    return await ctx.read(charges.list_, subscriptionId, of.named())


@router.put(
    "/subscriptions/{subscriptionId}/charges/{chargeId}",
    response_model=CustomCharge,
    responses=responses(404, 409),
)
async def edit_charge(
    subscriptionId: str, chargeId: str, body: ChargeEdit, on: Addressed = Depends(), ctx: Ctx = Depends(context)
) -> Any:
    """Edit a custom charge or credit of the current period or of a held invoice (what is not given
    stays). ``invoicePeriod`` / ``invoiceId``, when given, must name the charge's invoice."""
    fields = body.model_dump(include={"quantity", "eachAmount", "description"}, exclude_unset=True)
    address = on.named(body.invoicePeriod, body.invoiceId)
    return await ctx.write(charges.edit, subscriptionId, chargeId, fields, address)


@router.delete("/subscriptions/{subscriptionId}/charges/{chargeId}", status_code=204, responses=responses(404, 409))
async def delete_charge(
    subscriptionId: str, chargeId: str, on: Addressed = Depends(), ctx: Ctx = Depends(context)
) -> Response:
    """Delete a custom charge or credit of the current period or of a held invoice. ``invoicePeriod`` /
    ``invoiceId``, when given, must name the charge's invoice."""
    await ctx.write(charges.remove, subscriptionId, chargeId, on.named())
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscriptionId}/outstanding-invoice", response_model=Invoice, responses=responses(404, 409)
)
async def get_outstanding_invoice(
    subscriptionId: str,
    invoiceId: Annotated[InvoiceId | None, Query(description="this held invoice (default: the oldest)")] = None,
    ctx: Ctx = Depends(context),
) -> Any:
    return await ctx.read(outstanding.get, subscriptionId, invoiceId)


@router.post(
    "/subscriptions/{subscriptionId}/outstanding-invoice/run",
    response_model=Invoice,
    responses=responses(404, 409),
)
async def run_outstanding_invoice(
    subscriptionId: str,
    invoiceId: Annotated[InvoiceId | None, Query(description="this held invoice (default: the oldest)")] = None,
    body: OutstandingRun | None = None,
    ctx: Ctx = Depends(context),
) -> Any:
    """Run a held invoice now (the oldest, or ``invoiceId``); held invoices run in period order."""
    invoice = _one("invoiceId", body.invoiceId if body is not None else None, invoiceId)
    return await ctx.write(outstanding.run, subscriptionId, invoice)
