"""Settings the server makes for itself once, and every process then shares."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from billhook.store.schema import server_settings
from billhook.store.sql import insert_ignore
from billhook.store.uow import UnitOfWork


def session_secret(uow: UnitOfWork) -> str:
    """The key that signs dashboard session cookies: made at first use, the same for every process."""
    insert_ignore(uow.conn, server_settings, {"key": "session_secret", "value": secrets.token_urlsafe(48)}, ("key",))
    return uow.conn.execute(
        select(server_settings.c.value).where(server_settings.c.key == "session_secret")
    ).scalar_one()
