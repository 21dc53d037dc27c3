"""event payloads compressed with lz4 on PostgreSQL

An invoice's events carry the whole invoice (~6 KB of JSON each, a dozen per closed period), so the
server compresses every one of them; lz4 does that several times faster than the default pglz. Only
where the server has it (PostgreSQL 14 and later, built with lz4); SQLite stores text as it is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from billhook.store.migrate import has_lz4

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if has_lz4(op.get_bind()):
        op.execute("ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4")


def downgrade() -> None:
    if has_lz4(op.get_bind()):
        op.execute("ALTER TABLE events ALTER COLUMN data SET COMPRESSION default")
