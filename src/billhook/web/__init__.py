"""The billing operator's dashboard: server-rendered pages over the same services as the API."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import Receive, Scope, Send

from billhook.runtime import Runtime
from billhook.services import server_settings

SESSION_AGE = timedelta(hours=12)
API_PATHS = "/api/"  # authenticated by API key, never by the dashboard's cookie


class DashboardSessions(SessionMiddleware):
    """The signed session cookie, on the dashboard's pages only: an API request carries no session,
    so it does not pay for reading and re-signing one."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PATHS):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def install(app: FastAPI, runtime: Runtime) -> None:
    """Serve the dashboard at / with its assets, and the signed session cookie it signs in with."""
    from billhook.web import pages

    with runtime.uows.write() as uow:
        secret = server_settings.session_secret(uow)
    app.add_middleware(
        DashboardSessions,
        secret_key=secret,
        session_cookie="billhook_session",
        max_age=int(SESSION_AGE.total_seconds()),
        same_site="strict",
        https_only=True,
    )
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    app.include_router(pages.router)
