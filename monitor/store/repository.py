"""The typed storage API the pipeline and the CLI use; no SQL leaves this module.

`ingest` is the heart of it: the duplicate checks, the item, its hits and its
outbox rows happen in one transaction, so a crash never leaves a match without
its alert or an alert without its match. Inserts use ON CONFLICT DO NOTHING, so
two processes racing on the same entry store it once and both see the truth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.dedupe import MIN_WORDS_FOR_NEAR, NEAR_DUPLICATE_BITS, Fingerprint, hamming, same_story
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

    @cached_property
    def insert_item(self) -> Any:
        """Built once: SQLAlchemy then reuses the compiled statement for every row."""
        return (self._insert(items_t).on_conflict_do_nothing(index_elements=["feed_id", "guid"])
                .returning(items_t.c.id))

    @cached_property
    def insert_alert(self) -> Any:
        return (self._insert(alerts_t).on_conflict_do_nothing(index_elements=["item_id", "channel"])
                .returning(alerts_t.c.id))

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

        The duplicate checks are a handful of set queries for the whole batch,
        not a round of queries per item: a feed that changed nothing costs one
        SELECT. With `dry_run` the same statements run and are rolled back, so
        the outcomes (new or seen, and why) are exactly what a real run would say.
        """
        with self.engine.connect() as conn, conn.begin() as tx:
            feed_id = self._feed_id(conn, source)
            outcomes = _Batch(self, conn, feed_id, batch).run()
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


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Story:
    """A stored item that a new one may repeat."""

    id: int
    root: int  # the first item of its story, which owns the alerts
    simhash: int


class _Batch:
    """One `Store.ingest` call: what the database already knows about the batch,
    fetched once, then kept up to date as the batch's own items are inserted (so
    the second copy of a story within one batch is recognised too)."""

    def __init__(self, store: Store, conn: Connection, feed_id: int, batch: Sequence[Classified]) -> None:
        self.store, self.conn, self.feed_id, self.batch = store, conn, feed_id, batch
        self.now = _now()
        self.by_url: dict[str, _Story] = {}
        self.by_hash: dict[str, _Story] = {}
        self.by_band: dict[tuple[int, int], list[_Story]] = {}
        self.texts: dict[int, str | None] = {}
        self.hits: list[dict[str, Any]] = []

    def run(self) -> list[Outcome]:
        seen = self._known_guids()
        outcomes: list[Outcome | None] = [None] * len(self.batch)
        fresh: list[int] = []
        for index, entry in enumerate(self.batch):
            guid = entry.item.guid
            if guid in seen:
                outcomes[index] = Outcome("seen", None, "guid", seen[guid])
            else:
                fresh.append(index)
            seen.setdefault(guid, None)  # a second copy within this batch is seen too
        if fresh:
            entries = [self.batch[i] for i in fresh]
            self._lock_stories(entries)
            self._load_candidates(entries)
            for index in fresh:
                outcomes[index] = self._insert(self.batch[index])
            if self.hits:
                self.conn.execute(hits_t.insert(), self.hits)
        return outcomes  # type: ignore[return-value]

    def _known_guids(self) -> dict[str, int | None]:
        """Guids this feed already stored, with the story each belongs to."""
        guids = list({e.item.guid for e in self.batch})
        known: dict[str, int | None] = {}
        for chunk in _chunks(guids):
            rows = self.conn.execute(
                select(items_t.c.guid, items_t.c.id, items_t.c.duplicate_of).where(
                    items_t.c.feed_id == self.feed_id, items_t.c.guid.in_(chunk)
                )
            )
            known.update((r.guid, r.duplicate_of or r.id) for r in rows)
        return known

    def _lock_stories(self, entries: Sequence[Classified]) -> None:
        if self.store._dialect != "postgresql":
            return  # SQLite's BEGIN IMMEDIATE already serializes writers
        # Two instances storing the same syndicated text at once must agree on one
        # story root. Sorted, so two batches never wait on each other in a cycle.
        for key in sorted({int(e.fingerprint.content_hash[:15], 16) for e in entries}):
            self.conn.execute(select(func.pg_advisory_xact_lock(key)))

    def _load_candidates(self, entries: Sequence[Classified]) -> None:
        columns = (items_t.c.id, items_t.c.duplicate_of, items_t.c.fingerprint,
                   items_t.c.canonical_url, items_t.c.content_hash)
        urls = list({e.canonical_url for e in entries if e.canonical_url})
        hashes = list({e.fingerprint.content_hash for e in entries})
        for chunk in _chunks(urls):
            for r in self.conn.execute(select(*columns).where(items_t.c.canonical_url.in_(chunk))
                                       .order_by(items_t.c.id)):
                self.by_url.setdefault(r.canonical_url, _Story(r.id, r.duplicate_of or r.id, r.fingerprint))
        for chunk in _chunks(hashes):
            for r in self.conn.execute(select(*columns).where(items_t.c.content_hash.in_(chunk))
                                       .order_by(items_t.c.id)):
                self.by_hash.setdefault(r.content_hash, _Story(r.id, r.duplicate_of or r.id, r.fingerprint))
        near = [e.fingerprint for e in entries if e.fingerprint.words >= MIN_WORDS_FOR_NEAR]
        if not near:
            return
        bands = [items_t.c.fp_band0, items_t.c.fp_band1, items_t.c.fp_band2, items_t.c.fp_band3]
        for n, column in enumerate(bands):
            values = list({fp.bands[n] for fp in near})
            for chunk in _chunks(values):
                rows = self.conn.execute(
                    select(items_t.c.id, items_t.c.duplicate_of, items_t.c.fingerprint, column.label("band"))
                    .where(column.in_(chunk), items_t.c.ingested_at >= self.now - STORY_WINDOW)
                )
                for r in rows:
                    self.by_band.setdefault((n, r.band), []).append(
                        _Story(r.id, r.duplicate_of or r.id, r.fingerprint))

    def _story_of(self, entry: Classified) -> tuple[Literal["url", "story"] | None, _Story | None]:
        if entry.canonical_url and (story := self.by_url.get(entry.canonical_url)):
            return "url", story
        fp = entry.fingerprint
        if story := self.by_hash.get(fp.content_hash):
            return "story", story
        if fp.words < MIN_WORDS_FOR_NEAR:
            return None, None
        tried: set[int] = set()
        for n in range(4):
            for story in self.by_band.get((n, fp.bands[n]), ()):
                if story.id in tried:
                    continue
                tried.add(story.id)
                if hamming(story.simhash, fp.simhash) <= NEAR_DUPLICATE_BITS and self._same_words(story, entry):
                    return "story", story
        return None, None

    def _same_words(self, story: _Story, entry: Classified) -> bool:
        """SimHash finds candidates; the words decide. Two releases sharing most of
        their boilerplate can land a few bits apart and must not merge (a merged
        story alerts once, so the second one would go unheard)."""
        if story.id not in self.texts:
            self.texts[story.id] = self.conn.execute(
                select(items_t.c.text).where(items_t.c.id == story.id)
            ).scalar_one()
        text = self.texts[story.id]
        return text is None or same_story(text, entry.item.text)

    def _insert(self, entry: Classified) -> Outcome:
        item, fp = entry.item, entry.fingerprint
        reason, story = self._story_of(entry)
        story_id = story.root if story else None
        item_id = self.conn.execute(
            self.store.insert_item,
            {
                "feed_id": self.feed_id, "guid": item.guid, "url": item.url, "canonical_url": entry.canonical_url,
                "title": item.title, "text": item.text, "published_at": item.published, "ingested_at": self.now,
                "language": item.language, "origin": item.origin, "place": item.place, "path": item.path,
                "flags": list(item.flags), "content_hash": fp.content_hash, "fingerprint": fp.simhash,
                "fp_band0": fp.bands[0], "fp_band1": fp.bands[1], "fp_band2": fp.bands[2],
                "fp_band3": fp.bands[3], "duplicate_of": story_id, "matched": bool(entry.hits),
                "relevance": None, "labelled_at": None,
            },
        ).scalar()
        if item_id is None:  # another process stored it between our check and insert
            return Outcome("seen", None, "guid")
        self._remember(item_id, story_id, entry)
        self.hits.extend(
            {"item_id": item_id, "rule": h.rule, "term": h.term, "field": h.field,
             "start": h.start, "end": h.end, "matched": h.matched}
            for h in entry.hits
        )
        if story_id is not None:
            return Outcome("seen", item_id, reason, story_id)
        return Outcome("new", item_id, alert_ids=self._alerts(item_id, entry))

    def _remember(self, item_id: int, story_id: int | None, entry: Classified) -> None:
        story = _Story(item_id, story_id or item_id, entry.fingerprint.simhash)
        self.texts[item_id] = entry.item.text
        if entry.canonical_url:
            self.by_url.setdefault(entry.canonical_url, story)
        self.by_hash.setdefault(entry.fingerprint.content_hash, story)
        for n, band in enumerate(entry.fingerprint.bands):
            self.by_band.setdefault((n, band), []).append(story)

    def _alerts(self, item_id: int, entry: Classified) -> tuple[int, ...]:
        ids = []
        for request in entry.alerts:
            alert_id = self.conn.execute(
                self.store.insert_alert,
                {
                    "item_id": item_id, "channel": request.channel, "mode": request.mode,
                    "rules": list(request.rules), "idempotency_key": idempotency_key(entry.item, request.channel),
                    "state": "pending", "attempts": 0, "created_at": self.now,
                    "next_attempt_at": _due(request, self.now), "kind": "item",
                },
            ).scalar()
            if alert_id is not None:
                ids.append(alert_id)
        return tuple(ids)


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
