"""The FastAPI application: routers under /api/v1, problem+json errors, idempotency."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from billhook import __version__, web
from billhook.api import problems
from billhook.api.context import Principals
from billhook.api.idempotency import IdempotencyMiddleware
from billhook.api.routes import (
    apps,
    billing,
    custom_invoicing,
    customers,
    invoices,
    plans,
    subscriptions,
    system,
    webhooks,
)
from billhook.api.text_guard import TextGuardMiddleware
from billhook.runtime import Runtime

API_PREFIX = "/api/v1"


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(
        title="billhook",
        version=__version__,
        summary="Invoicing engine for subscription and usage billing, with hooks before money moves.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.principals = Principals()
    problems.install(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(TextGuardMiddleware)  # outermost: before idempotency and the routes
    for module in (customers, plans, subscriptions, invoices, billing, apps, custom_invoicing, webhooks, system):
        app.include_router(module.router, prefix=API_PREFIX)
    if os.environ.get("BILLHOOK_BENCH_FLOOR") == "1":  # benchmark only: bench/api_load.py
        app.include_router(system.bench_floor, prefix=API_PREFIX)
    app.include_router(system.health)
    web.install(app, runtime)
    return app
