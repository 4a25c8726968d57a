"""links, titles, headlines: the feed's own title beside the operator's, each
item's headline key (same story when a republisher trims it), relative links
of stored items resolved against their feed's URL

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CHUNK = 1_000


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document_title", sa.String(length=500), nullable=True))
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headline_key", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_items_headline_key"), ["headline_key"], unique=False)
    conn = op.get_bind()
    # Until now a poll wrote the feed's own title over the operator's; the next config
    # sync puts the operator's back (or clears it) and the next poll sets the feed's own.
    conn.execute(sa.text("UPDATE feeds SET document_title = title"))
    _resolve_relative_links(conn)
    _headline_keys(conn)


def _resolve_relative_links(conn: sa.Connection) -> None:
    """Items stored with a relative link get it resolved against their feed's URL (the
    best base known for them), and a canonical URL, so a later copy linking the same
    article absolutely is recognised. Their guid stays as it was: it still identifies
    the entry when the feed serves it again."""
    from monitor.dedupe.urls import canonical_url, resolve_link

    rows = conn.execute(sa.text(
        "SELECT items.id, items.url, feeds.url FROM items JOIN feeds ON feeds.id = items.feed_id "
        "WHERE feeds.kind = 'http' AND items.url IS NOT NULL AND items.url NOT LIKE 'http%'"
    )).all()
    changes = []
    for item_id, link, feed_url in rows:
        resolved = resolve_link(link, feed_url)
        if resolved != link and resolved is not None and len(resolved) <= 2048:
            changes.append({"id": item_id, "url": resolved, "canonical_url": canonical_url(resolved)})
    update = sa.text("UPDATE items SET url = :url, canonical_url = :canonical_url WHERE id = :id")
    for start in range(0, len(changes), _CHUNK):
        conn.execute(update, changes[start:start + _CHUNK])


def _headline_keys(conn: sa.Connection) -> None:
    """The keys of the items recent enough to be repeated by a trimmed copy; older
    items are never candidates (`HEADLINE_WINDOW`), so they keep none."""
    from monitor.dedupe import HEADLINE_WINDOW
    from monitor.dedupe.fingerprints import headline_key

    since = datetime.now(UTC) - HEADLINE_WINDOW
    items = sa.table("items", sa.column("id"), sa.column("title"), sa.column("ingested_at", sa.DateTime(timezone=True)))
    rows = conn.execute(sa.select(items.c.id, items.c.title).where(items.c.ingested_at >= since)).all()
    keys = [{"id": item_id, "key": headline_key(title or "")} for item_id, title in rows]
    update = sa.text("UPDATE items SET headline_key = :key WHERE id = :id")
    for start in range(0, len(keys), _CHUNK):
        conn.execute(update, keys[start:start + _CHUNK])


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_headline_key"))
        batch_op.drop_column("headline_key")
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("document_title")
