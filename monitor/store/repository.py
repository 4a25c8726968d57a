"""The typed storage API the pipeline and the CLI use; no SQL leaves this module.

`ingest` is the heart of it: the duplicate checks, the item, its hits and its
outbox rows happen in one transaction, so a crash never leaves a match without
its alert or an alert without its match. Inserts use ON CONFLICT DO NOTHING, so
two processes racing on the same entry store it once and both see the truth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.dedupe import MIN_WORDS_FOR_NEAR, NEAR_DUPLICATE_BITS, Fingerprint, hamming
from monitor.items import Hit, Item
from monitor.store.models import Alert, Feed, StoredHit, StoredItem

STORY_WINDOW = timedelta(days=14)  # how far back "the same story" is looked for

feeds_t = Feed.__table__
items_t = StoredItem.__table__
hits_t = StoredHit.__table__
alerts_t = Alert.__table__


@dataclass(frozen=True, slots=True)
class AlertRequest:
    channel: str
    rules: tuple[str, ...]
    mode: str = "immediate"  # or "digest": waits for the channel's digest, never sent alone
    not_before: datetime | None = None  # quiet hours: not delivered before this


@dataclass(frozen=True, slots=True)
class Classified:
    """An item with everything decided about it, ready to be stored."""

    item: Item
    hits: Sequence[Hit]
    fingerprint: Fingerprint
    canonical_url: str | None
    alerts: Sequence[AlertRequest] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["new", "seen"]
    item_id: int | None  # None when nothing was stored
    reason: Literal["guid", "url", "story"] | None = None  # why it counts as seen
    story_id: int | None = None  # first item of the story this one repeats
    alert_ids: tuple[int, ...] = field(default=())


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    # feeds ---------------------------------------------------------------

    def feed_id(self, url: str) -> int:
        """The id of the feed with this URL, created on first use."""
        with self.engine.begin() as conn:
            return self._feed_id(conn, url)

    def _feed_id(self, conn: Connection, url: str) -> int:
        found = conn.execute(select(feeds_t.c.id).where(feeds_t.c.url == url)).scalar()
        if found is not None:
            return int(found)
        conn.execute(
            self._insert(feeds_t)
            .values(url=url, kind="replay" if url.startswith("replay:") else "http",
                    enabled=True, consecutive_errors=0, items_seen=0, created_at=_now())
            .on_conflict_do_nothing(index_elements=["url"])
        )
        return int(conn.execute(select(feeds_t.c.id).where(feeds_t.c.url == url)).scalar_one())

    # items ---------------------------------------------------------------

    def ingest(
        self, source: str, batch: Sequence[Classified], *, dry_run: bool = False
    ) -> list[Outcome]:
        """Store a batch of items from one source in one transaction.

        With `dry_run` the same statements run and are rolled back, so the
        outcomes (new or seen, and why) are exactly what a real run would say.
        """
        outcomes: list[Outcome] = []
        with self.engine.connect() as conn, conn.begin() as tx:
            feed_id = self._feed_id(conn, source)
            for entry in batch:
                outcomes.append(self._ingest_one(conn, feed_id, entry))
            new = sum(1 for o in outcomes if o.item_id is not None)
            if new:
                conn.execute(
                    feeds_t.update()
                    .where(feeds_t.c.id == feed_id)
                    .values(items_seen=feeds_t.c.items_seen + new, last_new_item_at=_now())
                )
            if dry_run:
                tx.rollback()
        return outcomes

    def _ingest_one(self, conn: Connection, feed_id: int, entry: Classified) -> Outcome:
        item, fp = entry.item, entry.fingerprint
        existing = conn.execute(
            select(items_t.c.id).where(items_t.c.feed_id == feed_id, items_t.c.guid == item.guid)
        ).scalar()
        if existing is not None:
            return Outcome("seen", None, "guid", _root_of(conn, existing))

        if self._dialect == "postgresql":
            # Two instances storing the same syndicated text at once must agree on
            # one story root; SQLite's BEGIN IMMEDIATE already serializes writers.
            conn.execute(
                select(func.pg_advisory_xact_lock(int(fp.content_hash[:15], 16)))
            )
        reason: Literal["url", "story"] | None = None
        story = None
        if entry.canonical_url:
            story = conn.execute(
                select(items_t.c.id, items_t.c.duplicate_of)
                .where(items_t.c.canonical_url == entry.canonical_url)
                .limit(1)
            ).first()
            reason = "url" if story else None
        if story is None:
            story = self._find_story(conn, fp)
            reason = "story" if story else None
        story_id = (story.duplicate_of or story.id) if story else None

        now = _now()
        item_id = conn.execute(
            self._insert(items_t)
            .values(
                feed_id=feed_id, guid=item.guid, url=item.url, canonical_url=entry.canonical_url,
                title=item.title, text=item.text, published_at=item.published, ingested_at=now,
                language=item.language, origin=item.origin, place=item.place, path=item.path,
                flags=list(item.flags), content_hash=fp.content_hash, fingerprint=fp.simhash,
                fp_band0=fp.bands[0], fp_band1=fp.bands[1], fp_band2=fp.bands[2],
                fp_band3=fp.bands[3], duplicate_of=story_id, matched=bool(entry.hits),
            )
            .on_conflict_do_nothing(index_elements=["feed_id", "guid"])
            .returning(items_t.c.id)
        ).scalar()
        if item_id is None:  # another process stored it between our check and insert
            return Outcome("seen", None, "guid")

        if entry.hits:
            conn.execute(
                hits_t.insert(),
                [
                    {"item_id": item_id, "rule": h.rule, "term": h.term, "field": h.field,
                     "start": h.start, "end": h.end, "matched": h.matched}
                    for h in entry.hits
                ],
            )
        if story_id is not None:
            return Outcome("seen", item_id, reason, story_id)

        alert_ids = []
        for request in entry.alerts:
            alert_id = conn.execute(
                self._insert(alerts_t)
                .values(
                    item_id=item_id, channel=request.channel, mode=request.mode,
                    rules=list(request.rules),
                    idempotency_key=idempotency_key(item, request.channel),
                    state="pending", attempts=0, created_at=now,
                    next_attempt_at=_due(request, now), kind="item",
                )
                .on_conflict_do_nothing(index_elements=["item_id", "channel"])
                .returning(alerts_t.c.id)
            ).scalar()
            if alert_id is not None:
                alert_ids.append(alert_id)
        return Outcome("new", item_id, alert_ids=tuple(alert_ids))

    def _find_story(self, conn: Connection, fp: Fingerprint) -> Any:
        same = conn.execute(
            select(items_t.c.id, items_t.c.duplicate_of)
            .where(items_t.c.content_hash == fp.content_hash)
            .order_by(items_t.c.id)
            .limit(1)
        ).first()
        if same is not None or fp.words < MIN_WORDS_FOR_NEAR:
            return same
        candidates = conn.execute(
            select(items_t.c.id, items_t.c.duplicate_of, items_t.c.fingerprint)
            .where(
                or_(
                    items_t.c.fp_band0 == fp.bands[0], items_t.c.fp_band1 == fp.bands[1],
                    items_t.c.fp_band2 == fp.bands[2], items_t.c.fp_band3 == fp.bands[3],
                ),
                items_t.c.ingested_at >= _now() - STORY_WINDOW,
            )
            .order_by(items_t.c.id)
            .limit(50)
        ).all()
        for row in candidates:
            if hamming(row.fingerprint, fp.simhash) <= NEAR_DUPLICATE_BITS:
                return row
        return None

    def prune_unmatched_text(self, older_than: datetime) -> int:
        """Drop the text of old items that matched nothing. Guid, canonical URL and
        fingerprints stay, so dedupe still recognises them; matches are kept whole."""
        with self.engine.begin() as conn:
            return conn.execute(
                items_t.update()
                .where(
                    items_t.c.matched.is_(False),
                    items_t.c.ingested_at < older_than,
                    items_t.c.text.is_not(None),
                )
                .values(text=None)
            ).rowcount

    # reading ---------------------------------------------------------------

    def count(self, table: Literal["items", "hits", "alerts", "feeds"]) -> int:
        t = {"items": items_t, "hits": hits_t, "alerts": alerts_t, "feeds": feeds_t}[table]
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t)).scalar_one())

    def item_text(self, item_id: int) -> tuple[str, str | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(items_t.c.title, items_t.c.text).where(items_t.c.id == item_id)
            ).one()
            return row.title, row.text

    def hits_of(self, item_id: int) -> list[Hit]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(hits_t).where(hits_t.c.item_id == item_id).order_by(hits_t.c.id)
            ).all()
        return [Hit(r.rule, r.term, r.field, r.start, r.end, r.matched) for r in rows]


def idempotency_key(item: Item, channel: str) -> str:
    """Stable for the life of the alert, even across a database restore: it is
    derived from what identifies the story and the channel, not from row ids."""
    digest = hashlib.sha256(f"{item.source}\0{item.guid}\0{channel}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def _due(request: AlertRequest, now: datetime) -> datetime | None:
    """When the dispatcher may take the alert: digest alerts never on their own
    (the digest job collects them), quiet-hour alerts once the quiet ends."""
    if request.mode == "digest":
        return None
    return max(now, request.not_before) if request.not_before else now


def _root_of(conn: Connection, item_id: int) -> int:
    dup = conn.execute(select(items_t.c.duplicate_of).where(items_t.c.id == item_id)).scalar()
    return int(dup or item_id)


def _now() -> datetime:
    return datetime.now(UTC)
