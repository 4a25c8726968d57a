"""latency: the operator's interval, why a source is polled less often, its
publishing hours, each item's delay from publication, and WebSub subscriptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("configured_interval_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("push_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("slower_because", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("publish_hours", sa.JSON(), nullable=True))
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delay_s", sa.Float(), nullable=True))
    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("hub", sa.String(length=2048), nullable=False),
        sa.Column("topic", sa.String(length=2048), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("lease_s", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_push_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], name=op.f("fk_websub_subscriptions_feed_id_feeds"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_subscriptions")),
        sa.UniqueConstraint("feed_id", name=op.f("uq_websub_subscriptions_feed_id")),
        sa.UniqueConstraint("token", name=op.f("uq_websub_subscriptions_token")),
    )


def downgrade() -> None:
    op.drop_table("websub_subscriptions")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("delay_s")
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("publish_hours")
        batch_op.drop_column("slower_because")
        batch_op.drop_column("push_until")
        batch_op.drop_column("configured_interval_s")
