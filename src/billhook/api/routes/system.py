"""Health, readiness, metrics and the test clock."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from billhook.api.context import Ctx, context, runtime
from billhook.api.models import ClockAdvance, ClockState
from billhook.api.problems import problem, responses
from billhook.runtime import Runtime
from billhook.services import test_clock

router = APIRouter()
health = APIRouter(tags=["System"])


@health.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/readyz", responses={503: {"description": "database unreachable"}})
def readyz(request: Request) -> Any:
    rt: Runtime = runtime(request)
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        return problem(503, "database_unavailable", f"database unreachable: {type(exc).__name__}")
    return {"status": "ready"}


@health.get("/metrics", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/test-clock", response_model=ClockState, responses=responses(409), tags=["Test clock"])
def get_clock(ctx: Ctx = Depends(context)) -> Any:
    with ctx.runtime.uows(readonly=True) as uow:
        return test_clock.show(uow)


@router.post("/test-clock/advance", response_model=ClockState, responses=responses(409, 503), tags=["Test clock"])
async def advance_clock(body: ClockAdvance, wait: bool = Query(False), ctx: Ctx = Depends(context)) -> Any:
    """Move the test clock forward; with ``wait=true`` answer once everything due by then is processed."""

    def move() -> dict[str, Any]:
        with ctx.runtime.uows.write() as uow:
            state = test_clock.advance(uow, to=body.to, by=body.by)
            uow.commit()
        return state

    state = await anyio.to_thread.run_sync(move)
    if wait:
        worker = ctx.runtime.drainer()
        done = await anyio.to_thread.run_sync(worker.drain)
        if not done:
            return problem(503, "clock_drain_timeout", "the clock moved, but due work is still being processed")
        state["pending"] = 0
    return state
