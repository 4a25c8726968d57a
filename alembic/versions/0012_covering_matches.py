"""the matches list, its filters and the chart answered from indexes alone

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _stories(true: str) -> dict[str, sa.TextClause]:
    where = sa.text(f"matched IS {true} AND duplicate_of IS NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def upgrade() -> None:
    true = "true" if op.get_bind().dialect.name == "postgresql" else "1"
    # The chart and the "hide not relevant" filter read each story's relevance; the rule
    # filter and the chart each story's rules. At 5 M items that was a table row for every
    # story of 30 days (41,000) and for each of its hits. `matched` and `duplicate_of` are
    # columns too: SQLite calls an index covering only when it holds every column named.
    op.drop_index("ix_items_matches", table_name="items")
    op.create_index("ix_items_matches", "items", ["ingested_at", "id", "relevance", "matched", "duplicate_of"],
                    **_stories(true))
    op.create_index("ix_hits_item_rule", "hits", ["item_id", "rule"])
    op.drop_index("ix_hits_item_id", table_name="hits")


def downgrade() -> None:
    true = "true" if op.get_bind().dialect.name == "postgresql" else "1"
    op.create_index("ix_hits_item_id", "hits", ["item_id"])
    op.drop_index("ix_hits_item_rule", table_name="hits")
    op.drop_index("ix_items_matches", table_name="items")
    op.create_index("ix_items_matches", "items", ["ingested_at", "id"], **_stories(true))
