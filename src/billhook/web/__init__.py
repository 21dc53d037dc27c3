"""The billing operator's dashboard: server-rendered pages over the same services as the API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from billhook.runtime import Runtime
from billhook.services import server_settings

SESSION_AGE = timedelta(hours=12)


def install(app: FastAPI, runtime: Runtime) -> None:
    """Serve the dashboard at / with its assets, and the signed session cookie it signs in with."""
    from billhook.web import pages

    with runtime.uows.write() as uow:
        secret = server_settings.session_secret(uow)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="billhook_session",
        max_age=int(SESSION_AGE.total_seconds()),
        same_site="strict",
        https_only=True,
    )
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    app.include_router(pages.router)
