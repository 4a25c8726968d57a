"""a year of data: indexes for the hot queries at millions of items

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def _where(expression: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(expression), "postgresql_where": sa.text(expression)}


def upgrade() -> None:
    true, false = ("true", "false") if op.get_bind().dialect.name == "postgresql" else ("1", "0")
    op.create_index("ix_items_matches", "items", ["ingested_at", "id"],
                    **_where(f"matched IS {true} AND duplicate_of IS NULL"))
    op.create_index("ix_items_matched_feed", "items", ["feed_id"], **_where(f"matched IS {true}"))
    op.create_index("ix_items_unmatched_text", "items", ["ingested_at"],
                    **_where(f"text IS NOT NULL AND matched IS {false}"))
    op.create_index("ix_items_ingested_at_feed_id", "items", ["ingested_at", "feed_id", "delay_s"])
    op.drop_index("ix_items_ingested_at", table_name="items")
    # A boolean index and an index of mostly NULLs: offered to the planner for the matches list
    # (`matched IS true`, `duplicate_of IS NULL`), they are taken without statistics, and scan
    # nine rows in ten. The copies of a story keep a partial index.
    op.drop_index("ix_items_matched", table_name="items")
    op.drop_index("ix_items_duplicate_of", table_name="items")
    op.create_index("ix_items_duplicate_of", "items", ["duplicate_of"], **_where("duplicate_of IS NOT NULL"))
    # The near-copy lookup filters on the story window: in the index, not row by row.
    for band in range(4):
        op.drop_index(f"ix_items_fp_band{band}", table_name="items")
        op.create_index(f"ix_items_fp_band{band}", "items", [f"fp_band{band}", "ingested_at"])
    # The same-headline lookup: items from before headline keys hold NULL, and statistics that
    # count them make SQLite scan the whole table instead; only keyed rows, with the window.
    op.drop_index("ix_items_headline_key", table_name="items")
    op.create_index("ix_items_headline", "items", ["headline_key", "ingested_at"],
                    **_where("headline_key IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_items_headline", table_name="items")
    op.create_index("ix_items_headline_key", "items", ["headline_key"])
    for band in range(4):
        op.drop_index(f"ix_items_fp_band{band}", table_name="items")
        op.create_index(f"ix_items_fp_band{band}", "items", [f"fp_band{band}"])
    op.drop_index("ix_items_duplicate_of", table_name="items")
    op.create_index("ix_items_duplicate_of", "items", ["duplicate_of"])
    op.create_index("ix_items_matched", "items", ["matched"])
    op.create_index("ix_items_ingested_at", "items", ["ingested_at"])
    op.drop_index("ix_items_ingested_at_feed_id", table_name="items")
    op.drop_index("ix_items_unmatched_text", table_name="items")
    op.drop_index("ix_items_matched_feed", table_name="items")
    op.drop_index("ix_items_matches", table_name="items")
