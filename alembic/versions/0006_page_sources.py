"""page sources and discovery: a source's configured kind (feed or listing page)
and link selector, and what its URL was resolved to (a feed, the feed a page
declares, or the page read as a listing)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_kind", sa.String(length=10), nullable=False, server_default="feed"))
        batch_op.add_column(sa.Column("link_selector", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("resolved_as", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("resolved_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("resolved_url")
        batch_op.drop_column("resolved_as")
        batch_op.drop_column("link_selector")
        batch_op.drop_column("source_kind")
