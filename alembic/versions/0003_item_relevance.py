"""item relevance: an analyst can label a match "not relevant" (kept, alerts suppressed)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relevance", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("labelled_at")
        batch_op.drop_column("relevance")
