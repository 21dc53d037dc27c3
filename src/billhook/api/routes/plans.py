"""Plans: recurring charges and tracked items."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from billhook.api.context import Ctx, context
from billhook.api.models import Plan, PlanIn, PlanList, PlanUpdate
from billhook.api.problems import responses
from billhook.services import plans
from billhook.services.common import Page

router = APIRouter(tags=["Plans"])


@router.post("/plans", status_code=201, response_model=Plan, responses=responses(409))
async def create_plan(body: PlanIn, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(plans.create, body.data())


@router.get("/plans", response_model=PlanList, responses=responses())
async def list_plans(
    page: int = Query(1, ge=1, le=1_000_000), pageSize: int = Query(100, ge=1, le=1000), ctx: Ctx = Depends(context)
) -> Any:
    return await ctx.read(plans.list_, Page(page, pageSize))


@router.get("/plans/{planIdOrKey}", response_model=Plan, responses=responses(404))
async def get_plan(planIdOrKey: str, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.read(plans.get, planIdOrKey)


@router.put("/plans/{planIdOrKey}", response_model=Plan, responses=responses(404, 409))
async def update_plan(planIdOrKey: str, body: PlanUpdate, ctx: Ctx = Depends(context)) -> Any:
    return await ctx.write(plans.replace, planIdOrKey, body.data())
