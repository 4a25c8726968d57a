"""texts in a table of their own: retention deletes a row instead of updating one

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 09:00:00

Dropping a text was an UPDATE of `items`; PostgreSQL writes a non-HOT update
into every index of the table, and a year of texts at 5 M items took 1,019 s.
Deleting the rows of `item_texts` takes 33 s. The upgrade copies every text
once; at 5 M items it took 74 s on PostgreSQL, and 9.7 minutes on SQLite, whose
DROP COLUMN rewrites each row of `items`. Neither gives the dropped columns'
space back to the system (`VACUUM FULL items`, `VACUUM`); new rows reuse it.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _drop_columns(*names: str) -> None:
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        with op.batch_alter_table("items") as batch_op:  # copies the table: no DROP COLUMN before 3.35
            for name in names:
                batch_op.drop_column(name)
        return
    for name in names:
        op.execute(f"ALTER TABLE items DROP COLUMN {name}")


def upgrade() -> None:
    false = "false" if op.get_bind().dialect.name == "postgresql" else "0"
    op.create_table(
        "item_texts",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_item_texts_item_id_items"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_texts")),
    )
    op.create_table(
        "retention_marks",
        sa.Column("task", sa.String(length=20), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("task", name=op.f("pk_retention_marks")),
    )
    op.execute("INSERT INTO item_texts (item_id, text, summary) SELECT id, text, summary FROM items "
               "WHERE text IS NOT NULL ORDER BY id")
    op.drop_index("ix_items_unmatched_text", table_name="items")
    _drop_columns("text", "summary")
    op.create_index("ix_items_unmatched", "items", ["id"],
                    sqlite_where=sa.text(f"matched IS {false}"), postgresql_where=sa.text(f"matched IS {false}"))


def downgrade() -> None:
    false = "false" if op.get_bind().dialect.name == "postgresql" else "0"
    op.drop_index("ix_items_unmatched", table_name="items")
    op.add_column("items", sa.Column("text", sa.Text(), nullable=True))
    op.add_column("items", sa.Column("summary", sa.Text(), nullable=True))
    op.execute("UPDATE items SET text = (SELECT t.text FROM item_texts t WHERE t.item_id = items.id), "
               "summary = (SELECT t.summary FROM item_texts t WHERE t.item_id = items.id)")
    where = sa.text(f"text IS NOT NULL AND matched IS {false}")
    op.create_index("ix_items_unmatched_text", "items", ["ingested_at"], sqlite_where=where, postgresql_where=where)
    op.drop_table("retention_marks")
    op.drop_table("item_texts")
