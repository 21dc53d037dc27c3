"""event payloads compressed with lz4 on PostgreSQL

An invoice's events carry the whole invoice (~6 KB of JSON each, a dozen per closed period), so the
server compresses every one of them; lz4 does that several times faster than the default pglz. Only
where the server has it (PostgreSQL 14 and later, built with lz4); SQLite stores text as it is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _has_lz4() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(
        sa.text("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
    ).first()
    return found is not None


def upgrade() -> None:
    if _has_lz4():
        op.execute("ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4")


def downgrade() -> None:
    if _has_lz4():
        op.execute("ALTER TABLE events ALTER COLUMN data SET COMPRESSION default")
