"""The marketplace and installed apps (OpenMeter's paths)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from billhook.api.context import Ctx, context
from billhook.api.models import (
    App,
    AppList,
    AppReplace,
    InstallResult,
    ListingList,
    MarketplaceInstall,
    MarketplaceListing,
)
from billhook.api.problems import responses
from billhook.services import apps, marketplace
from billhook.services.common import Page

router = APIRouter(tags=["Apps"])
AppType = Literal["sandbox", "custom_invoicing"]


@router.get("/marketplace/listings", response_model=ListingList, responses=responses())
async def list_listings(
    page: int = Query(1, ge=1, le=1_000_000), pageSize: int = Query(100, ge=1, le=1000), _: Ctx = Depends(context)
) -> Any:
    return apps.list_listings(Page(page, pageSize))


@router.get("/marketplace/listings/{type}", response_model=MarketplaceListing, responses=responses(404))
async def get_listing(type: AppType, _: Ctx = Depends(context)) -> Any:
    return apps.listing(type)


@router.post("/marketplace/listings/{type}/install", response_model=InstallResult, responses=responses(404))
async def install_app(type: AppType, body: MarketplaceInstall, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(marketplace.install, type, body.data())


@router.get("/apps", response_model=AppList, responses=responses())
async def list_apps(
    page: int = Query(1, ge=1, le=1_000_000), pageSize: int = Query(100, ge=1, le=1000), ctx: Ctx = Depends(context)
) -> Any:
    return await ctx.read(apps.list_, Page(page, pageSize))


@router.get("/apps/{id}", response_model=App, responses=responses(404))
async def get_app(id: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(apps.get, id)


@router.put("/apps/{id}", response_model=App, responses=responses(404))
async def update_app(id: str, body: AppReplace, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(apps.replace, id, body.data())


@router.delete("/apps/{id}", status_code=204, responses=responses(404, 409))
async def uninstall_app(id: str, ctx: Ctx = Depends(context)) -> Response:
    await ctx.write(apps.uninstall, id)
    return Response(status_code=204)
