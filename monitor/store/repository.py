"""The typed storage API the pipeline and the CLI use; no SQL leaves this module.

`ingest` is the heart of it: the duplicate checks, the item, its hits and its
outbox rows happen in one transaction, so a crash never leaves a match without
its alert or an alert without its match. Inserts use ON CONFLICT DO NOTHING, so
two processes racing on the same entry store it once and both see the truth.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import groupby, islice
from typing import Any, Literal

from sqlalchemy import (
    BigInteger, Connection, Engine, Integer, String, and_, any_, bindparam, func, literal_column, or_, select,
)
from sqlalchemy.dialects import postgresql, sqlite

from monitor.dedupe import MIN_WORDS_FOR_NEAR, NEAR_DUPLICATE_BITS, Fingerprint, hamming, same_story
from monitor.items import Hit, Item
from monitor.store.models import Alert, Feed, StoredHit, StoredItem

STORY_WINDOW = timedelta(days=14)  # how far back "the same story" is looked for

feeds_t = Feed.__table__
items_t = StoredItem.__table__
hits_t = StoredHit.__table__
alerts_t = Alert.__table__
_CANDIDATE = (items_t.c.id, items_t.c.duplicate_of, items_t.c.fingerprint, items_t.c.canonical_url,
              items_t.c.content_hash)
_BANDS = (items_t.c.fp_band0, items_t.c.fp_band1, items_t.c.fp_band2, items_t.c.fp_band3)


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
        self._feed_ids: dict[str, int] = {}

    @cached_property
    def insert_items(self) -> Any:
        """Built once, so SQLAlchemy reuses the compiled statement. Executed with a
        list of rows it becomes one multi-row INSERT … RETURNING ("insertmanyvalues")."""
        return (self._insert(items_t).on_conflict_do_nothing(index_elements=["feed_id", "guid"])
                .returning(items_t.c.id, items_t.c.feed_id, items_t.c.guid))

    @cached_property
    def insert_hits(self) -> Any:
        return hits_t.insert()

    @cached_property
    def insert_alerts(self) -> Any:
        return (self._insert(alerts_t).on_conflict_do_nothing(index_elements=["item_id", "channel"])
                .returning(alerts_t.c.id, alerts_t.c.item_id, alerts_t.c.channel))

    @cached_property
    def link_story(self) -> Any:
        return (items_t.update().where(items_t.c.id == bindparam("row_id"))
                .values(duplicate_of=bindparam("root_id")))

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    # The batch's lookups, built once with named parameters: building a statement
    # anew costs SQLAlchemy more than SQLite takes to run it.

    @cached_property
    def known_guids(self) -> Any:
        """The stored items among (feed id, guid) pairs (see `pairs`): joined pair by
        pair, so each is one probe of the (feed_id, guid) index, whatever the feeds."""
        if self._dialect == "postgresql":
            pairs = (func.unnest(bindparam("feed_ids", type_=postgresql.ARRAY(Integer)),
                                 bindparam("guids", type_=postgresql.ARRAY(String)))
                     .table_valued("feed_id", "guid").render_derived("pairs"))
        else:
            value = literal_column("value")
            pairs = (select(func.json_extract(value, literal_column("'$[0]'")).label("feed_id"),
                            func.json_extract(value, literal_column("'$[1]'")).label("guid"))
                     .select_from(func.json_each(bindparam("pairs"))).subquery())
        on = and_(items_t.c.feed_id == pairs.c.feed_id, items_t.c.guid == pairs.c.guid)
        return (select(items_t.c.feed_id, items_t.c.guid, items_t.c.id, items_t.c.duplicate_of)
                .select_from(pairs.join(items_t, on)))

    @cached_property
    def count_new(self) -> Any:
        return (feeds_t.update().where(feeds_t.c.id == bindparam("row_id"))
                .values(items_seen=feeds_t.c.items_seen + bindparam("new", type_=Integer),
                        last_new_item_at=bindparam("at")))

    @cached_property
    def by_url(self) -> Any:
        return select(*_CANDIDATE).where(self._in(items_t.c.canonical_url, "urls")).order_by(items_t.c.id)

    @cached_property
    def by_hash(self) -> Any:
        return select(*_CANDIDATE).where(self._in(items_t.c.content_hash, "hashes")).order_by(items_t.c.id)

    @cached_property
    def by_band(self) -> Any:
        return (select(items_t.c.id, items_t.c.duplicate_of, items_t.c.fingerprint, *_BANDS)
                .where(or_(*(self._in(column, f"band{n}") for n, column in enumerate(_BANDS))),
                       items_t.c.ingested_at >= bindparam("since"))
                .order_by(items_t.c.id))

    @cached_property
    def lock_stories(self) -> Any:
        """PostgreSQL: take the transaction's advisory locks on `keys` in the array's order."""
        keys = (func.unnest(bindparam("keys", type_=postgresql.ARRAY(BigInteger)))
                .table_valued("key").render_derived())
        return select(func.count(func.pg_advisory_xact_lock(keys.c.key))).select_from(keys)

    def _in(self, column: Any, name: str) -> Any:
        """`column IN (:name)` with all the values in one parameter (see `values`): the
        SQL is the same for any number of values, with no placeholder per value."""
        if self._dialect == "postgresql":
            return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))

    def values(self, values: Collection[Any]) -> Any:
        """The parameter of an `_in`: an array on PostgreSQL, JSON for SQLite's json_each."""
        return list(values) if self._dialect == "postgresql" else json.dumps(list(values))

    def pairs(self, pairs: Collection[tuple[int, str]]) -> dict[str, Any]:
        """The parameters of `known_guids`: two arrays to unnest, or one JSON list of pairs."""
        if self._dialect == "postgresql":
            return {"feed_ids": [f for f, _ in pairs], "guids": [g for _, g in pairs]}
        return {"pairs": json.dumps(list(pairs))}

    # feeds ---------------------------------------------------------------

    def feed_id(self, url: str) -> int:
        """The id of the feed with this URL, created on first use."""
        with self.engine.begin() as conn:
            ids = self._feed_ids_of(conn, [url])
        self._feed_ids.update(ids)
        return ids[url]

    def _feed_ids_of(self, conn: Connection, urls: Sequence[str]) -> dict[str, int]:
        """The ids of the feeds with these URLs, created on first use. The caller
        remembers them once its transaction commits: feed rows are never deleted, so
        a committed id never goes stale, but one created in a transaction rolled back
        (a dry run, a failed group) would."""
        ids: dict[str, int] = {}
        for url in urls:
            if url not in ids:
                known = self._feed_ids.get(url)
                ids[url] = known if known is not None else self._feed_id(conn, url)
        return ids

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
        """Store a batch of items from one source in one transaction (see `ingest_many`)."""
        return self.ingest_many([(source, batch)], dry_run=dry_run)[0]

    def ingest_many(
        self, batches: Sequence[tuple[str, Sequence[Classified]]], *, dry_run: bool = False
    ) -> list[list[Outcome]]:
        """Store the batches of several sources in one transaction: their outcomes,
        batch by batch, are exactly those of storing the batches one after the other.

        The duplicate checks are a handful of set queries for all the batches,
        not a round of queries per item: feeds that changed nothing cost one
        SELECT. Storing several feeds at once spreads the fixed cost of a
        transaction and of each statement over all their items. With `dry_run` the
        same statements run and are rolled back, so the outcomes (new or seen, and
        why) are exactly what a real run would say.
        """
        with self.engine.connect() as conn, conn.begin() as tx:
            ids = self._feed_ids_of(conn, [source for source, _ in batches])
            feeds = [(ids[source], batch) for source, batch in batches]
            outcomes = [o for group in _distinct_feeds(feeds) for o in _Batch(self, conn, group).run()]
            self._count_new(conn, [(feed_id, sum(1 for o in of_feed if o.item_id is not None))
                                   for (feed_id, _), of_feed in zip(feeds, outcomes, strict=True)])
            if dry_run:
                tx.rollback()
        if not dry_run:
            self._feed_ids.update(ids)
        return outcomes

    def _count_new(self, conn: Connection, counts: Sequence[tuple[int, int]]) -> None:
        """Add each feed's new items to its `items_seen` (one statement for all)."""
        rows = [{"row_id": feed_id, "new": new, "at": _now()} for feed_id, new in counts if new]
        if rows:
            conn.execute(self.count_new, rows)

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


def _distinct_feeds(
    feeds: Sequence[tuple[int, Sequence[Classified]]],
) -> Iterator[list[tuple[int, Sequence[Classified]]]]:
    """`feeds` cut into runs without a repeated feed, in order: a `_Batch` tells a feed's
    guids stored before it from those of its own batch, not from those of a second
    batch of the same feed (which must see the first as stored, as it would one by one)."""
    run: list[tuple[int, Sequence[Classified]]] = []
    for feed_id, batch in feeds:
        if any(feed_id == other for other, _ in run):
            yield run
            run = []
        run.append((feed_id, batch))
    if run:
        yield run


@dataclass(slots=True, eq=False)
class _Story:
    """A stored item, or an item of this batch, that a new one may repeat.

    Compared by identity: a batch keeps one `_Story` per stored item (`_Batch.stored`)."""

    simhash: int
    id: int | None  # None until the batch's INSERT gives the item one
    root: int | _Story | None  # the story's first item, which owns the alerts; None: this one
    text: str | None = None
    has_text: bool = False  # a stored item's text is read only when a near-duplicate needs it

    @property
    def root_id(self) -> int | None:
        if self.root is None:
            return self.id
        return self.root if isinstance(self.root, int) else self.root.id


@dataclass(slots=True)
class _Planned:
    """An item of the batch, judged and waiting for its INSERT."""

    index: int  # its place in the batch (all its feeds' entries, in order)
    feed_id: int
    entry: Classified
    story: _Story  # the item itself, as later items see it
    reason: Literal["url", "story"] | None  # why it repeats an earlier story; None when it starts one


class _Batch:
    """The entries of one or more feeds, stored in one go: what the database
    already knows about them, fetched once, then kept up to date as the batch's
    own items are judged (so the second copy of a story within the batch, in the
    same feed or another, is recognised too).

    Every item is judged first, in order (feed by feed, each feed's entries in
    order), then all are inserted with one multi-row INSERT, their hits with one
    more and their alerts with another. The outcomes are those of storing the
    feeds one after the other; no feed may appear twice (see `_distinct_feeds`)."""

    def __init__(
        self, store: Store, conn: Connection, feeds: Sequence[tuple[int, Sequence[Classified]]]
    ) -> None:
        self.store, self.conn = store, conn
        self.sizes = [len(batch) for _, batch in feeds]
        self.batch = [entry for _, batch in feeds for entry in batch]
        self.feed_ids = [feed_id for feed_id, batch in feeds for _ in batch]  # of each entry
        self.now = _now()
        self.by_url: dict[str, _Story] = {}
        self.by_hash: dict[str, _Story] = {}
        self.by_band: dict[tuple[int, int], list[_Story]] = {}
        self.stored: dict[int, _Story] = {}
        self.hits: list[dict[str, Any]] = []

    def run(self) -> list[list[Outcome]]:
        """The outcomes, feed by feed."""
        seen = self._known_guids()
        outcomes: list[Outcome | None] = [None] * len(self.batch)
        fresh: list[int] = []
        for index, entry in enumerate(self.batch):
            key = (self.feed_ids[index], entry.item.guid)
            if key in seen:
                outcomes[index] = Outcome("seen", None, "guid", seen[key])
            else:
                fresh.append(index)
            seen.setdefault(key, None)  # a second copy within this feed's batch is seen too
        if fresh:
            entries = [self.batch[i] for i in fresh]
            self._lock_stories(entries)
            self._load_candidates(entries)
            for index, outcome in self._store(fresh):
                outcomes[index] = outcome
            if self.hits:
                self.conn.execute(self.store.insert_hits, self.hits)
        return self._by_feed(outcomes)  # type: ignore[arg-type]

    def _by_feed(self, outcomes: Sequence[Outcome]) -> list[list[Outcome]]:
        flat = iter(outcomes)
        return [list(islice(flat, size)) for size in self.sizes]

    def _known_guids(self) -> dict[tuple[int, str], int | None]:
        """(feed id, guid) of the batch already stored, with the story each belongs to."""
        if not self.batch:
            return {}
        pairs = {(feed_id, e.item.guid) for feed_id, e in zip(self.feed_ids, self.batch, strict=True)}
        rows = self.conn.execute(self.store.known_guids, self.store.pairs(pairs))
        return {(feed_id, guid): duplicate_of or item_id for feed_id, guid, item_id, duplicate_of in rows}

    def _lock_stories(self, entries: Sequence[Classified]) -> None:
        if self.store._dialect != "postgresql":
            return  # SQLite's BEGIN IMMEDIATE already serializes writers
        # Two instances storing the same syndicated text at once must agree on one
        # story root. Sorted, so two batches never wait on each other in a cycle.
        # One statement for all keys: a round trip per item was most of a feed's storing.
        keys = sorted({int(e.fingerprint.content_hash[:15], 16) for e in entries})
        self.conn.execute(self.store.lock_stories, {"keys": keys})

    def _load_candidates(self, entries: Sequence[Classified]) -> None:
        store = self.store
        urls = {e.canonical_url for e in entries if e.canonical_url}
        if urls:
            for r in self.conn.execute(store.by_url, {"urls": store.values(urls)}):
                self.by_url.setdefault(r.canonical_url, self._stored_story(r.id, r.duplicate_of, r.fingerprint))
        hashes = store.values({e.fingerprint.content_hash for e in entries})
        for r in self.conn.execute(store.by_hash, {"hashes": hashes}):
            self.by_hash.setdefault(r.content_hash, self._stored_story(r.id, r.duplicate_of, r.fingerprint))
        near = [e.fingerprint for e in entries if e.fingerprint.words >= MIN_WORDS_FOR_NEAR]
        if near:
            self._load_near(near)

    def _load_near(self, near: Sequence[Fingerprint]) -> None:
        """Recent items sharing a SimHash band with one of `near` (one query for the
        four bands, so an item sharing several comes back once), kept only if within
        NEAR_DUPLICATE_BITS of an item of the batch: on templated press most share
        a band with something, and `_story_of` would try each for every item."""
        wanted: list[dict[int, list[int]]] = [{} for _ in _BANDS]  # band value -> simhashes of the batch
        for fp in near:
            for n, band in enumerate(fp.bands):
                wanted[n].setdefault(band, []).append(fp.simhash)
        parameters = {f"band{n}": self.store.values(values) for n, values in enumerate(wanted)}
        rows = self.conn.execute(self.store.by_band, {**parameters, "since": self.now - STORY_WINDOW})
        for item_id, duplicate_of, simhash, *row_bands in rows:
            shared = [(n, band) for n, band in enumerate(row_bands) if band in wanted[n]]
            reach = (hamming(simhash, other) for n, band in shared for other in wanted[n][band])
            if not any(bits <= NEAR_DUPLICATE_BITS for bits in reach):
                continue
            story = self._stored_story(item_id, duplicate_of, simhash)
            for key in shared:
                self.by_band.setdefault(key, []).append(story)

    def _stored_story(self, item_id: int, duplicate_of: int | None, simhash: int) -> _Story:
        """The one `_Story` of a stored item."""
        story = self.stored.get(item_id)
        if story is None:
            story = self.stored[item_id] = _Story(simhash, item_id, duplicate_of or item_id)
        return story

    # judging -------------------------------------------------------------

    def _story_of(self, entry: Classified) -> tuple[Literal["url", "story"] | None, _Story | None]:
        if entry.canonical_url and (story := self.by_url.get(entry.canonical_url)):
            return "url", story
        fp = entry.fingerprint
        if story := self.by_hash.get(fp.content_hash):
            return "story", story
        if fp.words < MIN_WORDS_FOR_NEAR:
            return None, None
        tried: set[_Story] = set()
        for n in range(4):
            for story in self.by_band.get((n, fp.bands[n]), ()):
                if story in tried:
                    continue
                tried.add(story)
                if hamming(story.simhash, fp.simhash) <= NEAR_DUPLICATE_BITS and self._same_words(story, entry):
                    return "story", story
        return None, None

    def _same_words(self, story: _Story, entry: Classified) -> bool:
        """SimHash finds candidates; the words decide. Two releases sharing most of
        their boilerplate can land a few bits apart and must not merge (a merged
        story alerts once, so the second one would go unheard)."""
        if not story.has_text:
            story.text = self.conn.execute(select(items_t.c.text).where(items_t.c.id == story.id)).scalar_one()
            story.has_text = True
        return story.text is None or same_story(story.text, entry.item.text)

    def _plan(self, index: int) -> _Planned:
        """Judge one item against the database and the batch's earlier items, and
        let the later ones see it."""
        entry = self.batch[index]
        reason, story = self._story_of(entry)
        root = None if story is None else story if story.root is None else story.root
        own = _Story(entry.fingerprint.simhash, None, root, entry.item.text, has_text=True)
        self._remember(own, entry)
        return _Planned(index, self.feed_ids[index], entry, own, reason)

    def _remember(self, story: _Story, entry: Classified) -> None:
        if entry.canonical_url:
            self.by_url.setdefault(entry.canonical_url, story)
        self.by_hash.setdefault(entry.fingerprint.content_hash, story)
        for n, band in enumerate(entry.fingerprint.bands):
            self.by_band.setdefault((n, band), []).append(story)

    def _forget(self, planned: Sequence[_Planned]) -> None:
        """Undo `_remember` for items that were not stored after all."""
        for p in planned:
            fp = p.entry.fingerprint
            if p.entry.canonical_url and self.by_url.get(p.entry.canonical_url) is p.story:
                del self.by_url[p.entry.canonical_url]
            if self.by_hash.get(fp.content_hash) is p.story:
                del self.by_hash[fp.content_hash]
            for n, band in enumerate(fp.bands):
                self.by_band[(n, band)].remove(p.story)

    # storing -------------------------------------------------------------

    def _store(self, fresh: Sequence[int]) -> list[tuple[int, Outcome]]:
        """Judge and insert the batch's new items: all at once, unless one of them
        conflicts (another process stored its guid since `_known_guids`). Later
        items may have been judged against that one, so then the attempt is
        rolled back and retried feed by feed (as storing the feeds one after the
        other would have), and within the feed that conflicts item by item, as
        each insert's outcome decides what the next item repeats."""
        planned = [self._plan(index) for index in fresh]
        if len(planned) == 1:
            return self._store_one(planned[0])
        savepoint = self.conn.begin_nested()
        ids = self._insert_items(planned)
        if len(ids) == len(planned):
            savepoint.commit()
            return self._finish(planned, ids)
        savepoint.rollback()
        self._forget(planned)
        parts = [list(part) for _, part in groupby(fresh, key=self.feed_ids.__getitem__)]
        if len(parts) == 1:
            parts = [[index] for index in fresh]
        return [outcome for part in parts for outcome in self._store(part)]

    def _store_one(self, planned: _Planned) -> list[tuple[int, Outcome]]:
        ids = self._insert_items([planned])
        if not ids:  # another process stored it between our check and insert
            self._forget([planned])
            return [(planned.index, Outcome("seen", None, "guid"))]
        return self._finish([planned], ids)

    def _insert_items(self, planned: Sequence[_Planned]) -> dict[tuple[int, str], int]:
        """One INSERT for all; the ids of the rows stored, by (feed id, guid): a
        conflicting row returns nothing, and two feeds may carry the same guid, so
        rows are matched by both, not by position."""
        rows = [self._item_row(p.feed_id, p.entry, p.story.root_id) for p in planned]
        return {(r.feed_id, r.guid): r.id for r in self.conn.execute(self.store.insert_items, rows)}

    def _item_row(self, feed_id: int, entry: Classified, story_id: int | None) -> dict[str, Any]:
        item, fp = entry.item, entry.fingerprint
        return {
            "feed_id": feed_id, "guid": item.guid, "url": item.url, "canonical_url": entry.canonical_url,
            "title": item.title, "text": item.text, "published_at": item.published, "ingested_at": self.now,
            "language": item.language, "origin": item.origin, "place": item.place, "path": item.path,
            "flags": list(item.flags), "content_hash": fp.content_hash, "fingerprint": fp.simhash,
            "fp_band0": fp.bands[0], "fp_band1": fp.bands[1], "fp_band2": fp.bands[2],
            "fp_band3": fp.bands[3], "duplicate_of": story_id, "matched": bool(entry.hits),
            "relevance": None, "labelled_at": None,
        }

    def _finish(self, planned: Sequence[_Planned], ids: dict[tuple[int, str], int]) -> list[tuple[int, Outcome]]:
        """The stored items' ids, story links, hits and alerts, and their outcomes."""
        for p in planned:
            p.story.id = ids[p.feed_id, p.entry.item.guid]
        self._link_stories(planned)
        alert_ids = self._alerts([p for p in planned if p.reason is None])
        outcomes = []
        for p in planned:
            item_id = p.story.id
            assert item_id is not None
            self.hits.extend(
                {"item_id": item_id, "rule": h.rule, "term": h.term, "field": h.field,
                 "start": h.start, "end": h.end, "matched": h.matched}
                for h in p.entry.hits
            )
            if p.reason is None:
                outcomes.append((p.index, Outcome("new", item_id, alert_ids=alert_ids.get(item_id, ()))))
            else:
                outcomes.append((p.index, Outcome("seen", item_id, p.reason, p.story.root_id)))
        return outcomes

    def _link_stories(self, planned: Sequence[_Planned]) -> None:
        """Repeats of a story that starts in this batch: its id exists only now."""
        links = [{"row_id": p.story.id, "root_id": p.story.root_id}
                 for p in planned if isinstance(p.story.root, _Story)]
        if links:
            self.conn.execute(self.store.link_story, links)

    def _alerts(self, planned: Sequence[_Planned]) -> dict[int, tuple[int, ...]]:
        """One INSERT for the outbox rows of all new items; their ids by item, in
        the order of the item's requests."""
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for p in planned:
            assert p.story.id is not None
            for request in p.entry.alerts:
                rows.setdefault((p.story.id, request.channel), {  # a repeated channel adds nothing
                    "item_id": p.story.id, "channel": request.channel, "mode": request.mode,
                    "rules": list(request.rules), "idempotency_key": idempotency_key(p.entry.item, request.channel),
                    "state": "pending", "attempts": 0, "created_at": self.now,
                    "next_attempt_at": _due(request, self.now), "kind": "item",
                })
        stored = {}
        if rows:
            result = self.conn.execute(self.store.insert_alerts, list(rows.values()))
            stored = {(r.item_id, r.channel): r.id for r in result}
        by_item: dict[int, tuple[int, ...]] = {}
        for item_id, channel in rows:
            if (item_id, channel) in stored:
                by_item[item_id] = by_item.get(item_id, ()) + (stored[item_id, channel],)
        return by_item
