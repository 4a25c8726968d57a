"""articles: the feed's summary beside an item's article text, and the articles
to fetch again (`article_retries`)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
    op.create_table(
        "article_retries",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], name=op.f("fk_article_retries_feed_id_feeds")),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_article_retries_item_id_items"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_article_retries")),
    )
    with op.batch_alter_table("article_retries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_retries_feed_id"), ["feed_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_article_retries_next_attempt_at"), ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("article_retries")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("summary")
