"""Health, readiness, metrics and the test clock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text, update

from billhook.api.context import Ctx, context, runtime
from billhook.api.models import ClockAdvance, ClockState, QuantitySet
from billhook.api.problems import problem, responses
from billhook.runtime import Runtime
from billhook.services import test_clock
from billhook.store.clock import wall_now
from billhook.store.schema import item_quantities

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
    """The caller's namespace's test clock: its time and, while it walks, the target (``advancingTo``)."""
    with ctx.runtime.uows(readonly=True, namespace=ctx.namespace) as uow:
        return test_clock.show(uow)


@router.post("/test-clock/advance", response_model=ClockState, responses=responses(409, 503), tags=["Test clock"])
async def advance_clock(body: ClockAdvance, wait: bool = Query(False), ctx: Ctx = Depends(context)) -> Any:
    """Walk the caller's namespace's test clock forward, through every instant something of the namespace
    falls due, each processed before the next. With ``wait=true``, answer once the target is reached and
    everything due by then is processed; otherwise at once (the server's workers walk it)."""

    def move() -> dict[str, Any]:
        with ctx.runtime.uows.write(ctx.namespace) as uow:
            state = test_clock.advance(uow, to=body.to, by=body.by)
            uow.commit()
        return state

    def walked() -> dict[str, Any] | None:
        if not ctx.runtime.drainer().walk(ctx.namespace):
            return None
        with ctx.runtime.uows(readonly=True, namespace=ctx.namespace) as uow:
            return test_clock.show(uow) | {"pending": 0}

    state = await anyio.to_thread.run_sync(move)
    if not wait:
        return state
    done = await anyio.to_thread.run_sync(walked)
    if done is None:
        return problem(503, "clock_walk_stalled", "the clock is walking, but due work stopped being processed")
    return done


# ------------------------------------------------------------------------------ benchmark only
# The floor for bench/api_load.py: the same single-row quantity update as Set Item Quantity, with
# nothing else around it. Registered only when BILLHOOK_BENCH_FLOOR=1 at app creation; not in OpenAPI.

bench_floor = APIRouter(include_in_schema=False)


@bench_floor.put("/bench/floor/quantity/{invoiceId}/{itemKey}")
async def bench_floor_quantity(invoiceId: str, itemKey: str, body: QuantitySet, ctx: Ctx = Depends(context)) -> Any:
    iq = item_quantities

    def update_one() -> int:  # on a worker thread, as a route's unit of work is (Ctx.write)
        with ctx.runtime.engine.begin() as conn:
            return conn.execute(
                update(iq)
                .where(iq.c.invoice_id == invoiceId, iq.c.item_key == itemKey, iq.c.namespace == ctx.namespace)
                .values(quantity=Decimal(body.quantity), updated_at=wall_now())
            ).rowcount

    return {"updated": await anyio.to_thread.run_sync(update_one)}
