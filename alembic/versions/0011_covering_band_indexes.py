"""near-copy lookup: the band indexes carry the SimHash

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 06:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The lookup counts each candidate's distance in the database (`hamming`): with the
    # SimHash in the index it does so without reading the row of every item sharing a band.
    for band in range(4):
        op.drop_index(f"ix_items_fp_band{band}", table_name="items")
        op.create_index(f"ix_items_fp_band{band}", "items", [f"fp_band{band}", "ingested_at", "fingerprint"])


def downgrade() -> None:
    for band in range(4):
        op.drop_index(f"ix_items_fp_band{band}", table_name="items")
        op.create_index(f"ix_items_fp_band{band}", "items", [f"fp_band{band}", "ingested_at"])
