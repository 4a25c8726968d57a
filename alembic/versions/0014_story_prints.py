"""the story window's fingerprints in a table of their own, as big as the window

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 11:50:00

The near-copy lookup reads only the last 14 days, but the four band indexes of
`items` held every item of the year: at 5 M items 1 GB, on whose leaves each new
item's four entries landed anywhere. `story_prints` holds the window's items
only; retention deletes the rows that leave it. The upgrade copies the last 15
days' fingerprints (a day more than the window: retention trims it) and drops
the four indexes; `items` keeps its band columns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

WINDOW = timedelta(days=15)  # monitor.dedupe.stories.STORY_WINDOW, and a day to spare


def upgrade() -> None:
    op.create_table(
        "story_prints",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fingerprint", sa.BigInteger(), nullable=False),
        sa.Column("band0", sa.Integer(), nullable=False),
        sa.Column("band1", sa.Integer(), nullable=False),
        sa.Column("band2", sa.Integer(), nullable=False),
        sa.Column("band3", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_story_prints_item_id_items"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_story_prints")),
    )
    since = sa.bindparam("since", datetime.now(UTC) - WINDOW, type_=sa.DateTime(timezone=True))
    op.get_bind().execute(sa.text(
        "INSERT INTO story_prints (item_id, ingested_at, fingerprint, band0, band1, band2, band3) "
        "SELECT id, ingested_at, fingerprint, fp_band0, fp_band1, fp_band2, fp_band3 FROM items "
        "WHERE ingested_at >= :since ORDER BY id").bindparams(since))
    for band in range(4):
        op.create_index(f"ix_story_prints_band{band}", "story_prints", [f"band{band}", "ingested_at", "fingerprint"])
        op.drop_index(f"ix_items_fp_band{band}", table_name="items")


def downgrade() -> None:
    for band in range(4):
        op.create_index(f"ix_items_fp_band{band}", "items", [f"fp_band{band}", "ingested_at", "fingerprint"])
    op.drop_table("story_prints")
