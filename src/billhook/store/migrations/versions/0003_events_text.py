"""event payloads kept as text on PostgreSQL

A ``json`` column makes the server validate every payload it is given: on a billing day, a dozen
copies of each invoice (~6 KB each) per closed period, a fifth of the server's CPU. billhook writes
these payloads itself and parses them when it reads them, so ``text`` loses nothing. The lz4
compression of 0002 is kept. SQLite stores JSON as text already: nothing changes there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

from billhook.store.migrate import has_lz4

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _retype(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    lz4 = has_lz4(op.get_bind())
    if lz4:  # the rows the change of type rewrites are compressed with it too
        op.execute("SET LOCAL default_toast_compression = 'lz4'")
    op.execute(f"ALTER TABLE events ALTER COLUMN data TYPE {to} USING data::{to}")
    if lz4:  # the change of type reset the column's own setting to the server's default
        op.execute("ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4")


def upgrade() -> None:
    _retype("text")


def downgrade() -> None:
    _retype("json")
