"""one test clock per namespace, with the target of the walk in progress

The single ``test_clock`` row (id 1) becomes ``test_clocks``, keyed by namespace. Existing data keeps
the time it was at: the old row's time becomes the clock of every namespace that exists (the default
one, those with an API key, those with a namespace row), so nothing already billed sees time move
backwards or jump. Namespaces made later get a clock of their own at the configured start
(``--test-clock-start``, else the wall time), as the single clock did when it was first made.
Going back keeps the latest of the clocks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "test_clocks",
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
        sa.Column("walk_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_test_clocks")),
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM test_clock WHERE id = 1")).first() is not None:
        names = {"default"}
        names.update(bind.execute(sa.text("SELECT DISTINCT namespace FROM api_keys")).scalars())
        names.update(bind.execute(sa.text("SELECT name FROM namespaces")).scalars())
        copy = sa.text(  # the stored values as they are (each database's own format for times)
            "INSERT INTO test_clocks (namespace, now, walk_to, updated_at)"
            " SELECT :ns, now, NULL, updated_at FROM test_clock WHERE id = 1"
        )
        for name in sorted(names):
            bind.execute(copy, {"ns": name})
    op.drop_table("test_clock")


def downgrade() -> None:
    op.create_table(
        "test_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_clock")),
    )
    op.execute(
        "INSERT INTO test_clock (id, now, updated_at)"
        " SELECT 1, now, updated_at FROM test_clocks ORDER BY now DESC LIMIT 1"
    )
    op.drop_table("test_clocks")
