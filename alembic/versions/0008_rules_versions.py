"""rules versions: the rule set each item was classified with, matches that
ended on a reclassification, and the progress of reclassify runs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rules_version", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reclassified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reclassified_note", sa.Text(), nullable=True))
    op.create_table(
        "rules_versions",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules_versions")),
    )
    op.create_index(op.f("ix_rules_versions_first_seen_at"), "rules_versions", ["first_seen_at"], unique=False)
    op.create_table(
        "reclassify_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("rules_version", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_item_id", sa.Integer(), nullable=False),
        sa.Column("scanned", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reclassify_runs")),
    )
    op.create_index(op.f("ix_reclassify_runs_key"), "reclassify_runs", ["key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reclassify_runs_key"), table_name="reclassify_runs")
    op.drop_table("reclassify_runs")
    op.drop_index(op.f("ix_rules_versions_first_seen_at"), table_name="rules_versions")
    op.drop_table("rules_versions")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("reclassified_note")
        batch_op.drop_column("reclassified_at")
        batch_op.drop_column("rules_version")
