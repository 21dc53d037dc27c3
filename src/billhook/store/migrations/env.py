"""Alembic environment: billhook passes its own connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from billhook.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - billhook always passes one
    raise RuntimeError("run migrations through `billhook migrate`")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
