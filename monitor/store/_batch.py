"""One commit of the prepared items of one or more feeds: the lookups the story
policy (`monitor.dedupe.StoryIndex`) asks for, then the inserts it leads to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby, islice
from typing import Any

from sqlalchemy import Connection

from monitor.dedupe import HEADLINE_WINDOW, STORY_WINDOW, Story, StoryIndex
from monitor.dedupe.stories import Repeat
from monitor.items import AlertRequest, Fingerprint, Hit, Item, Outcome, Prepared
from monitor.states import AlertMode, AlertState
from monitor.store._statements import Statements

FeedBatch = tuple[int, Sequence[Prepared]]  # a feed's id and its prepared items


def idempotency_key(item: Item, channel: str) -> str:
    """Stable for the life of the alert, even across a database restore: it is
    derived from what identifies the story and the channel, not from row ids."""
    digest = hashlib.sha256(f"{item.source}\0{item.guid}\0{channel}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def due_at(request: AlertRequest, now: datetime) -> datetime | None:
    """When the dispatcher may take the alert: digest alerts never on their own
    (the digest job collects them), quiet-hour alerts once the quiet ends."""
    if request.mode == AlertMode.DIGEST:
        return None
    return max(now, request.not_before) if request.not_before else now


def hit_rows(item_id: int, hits: Iterable[Hit]) -> list[dict[str, Any]]:
    """The `hits` rows of an item: the one shape ingest, article retries and reclassify write."""
    return [{"item_id": item_id, "rule": h.rule, "term": h.term, "field": h.field, "start": h.start, "end": h.end,
             "matched": h.matched} for h in hits]


def text_row(item_id: int, item: Item) -> dict[str, Any]:
    """The `item_texts` row of an item: what ingest and a fetched article write."""
    return {"item_id": item_id, "text": item.text, "summary": item.summary}


def print_values(fp: Fingerprint) -> dict[str, int]:
    """An item's fingerprint as `story_prints` holds it: what ingest writes and a fetched article rewrites."""
    return {"fingerprint": fp.simhash, **{f"band{n}": band for n, band in enumerate(fp.bands)}}


def print_row(item_id: int, ingested_at: datetime, fp: Fingerprint) -> dict[str, Any]:
    """The `story_prints` row of a new item."""
    return {"item_id": item_id, "ingested_at": ingested_at, **print_values(fp)}


def alert_row(item_id: int, item: Item, request: AlertRequest, now: datetime) -> dict[str, Any]:
    """A new outbox row for an item's alert: the one shape every writer of item alerts uses."""
    return {"item_id": item_id, "channel": request.channel, "mode": str(request.mode), "rules": list(request.rules),
            "idempotency_key": idempotency_key(item, request.channel), "state": str(AlertState.PENDING),
            "attempts": 0, "created_at": now, "next_attempt_at": due_at(request, now), "kind": "item"}


def distinct_feeds(feeds: Sequence[FeedBatch]) -> Iterator[list[FeedBatch]]:
    """`feeds` cut into runs without a repeated feed, in order: a `Batch` tells a feed's
    guids stored before it from those of its own batch, not from those of a second
    batch of the same feed (which must see the first as stored, as it would one by one)."""
    run: list[FeedBatch] = []
    for feed_id, batch in feeds:
        if any(feed_id == other for other, _ in run):
            yield run
            run = []
        run.append((feed_id, batch))
    if run:
        yield run


@dataclass(slots=True)
class _Planned:
    """An item of the batch, judged and waiting for its INSERT."""

    index: int  # its place in the batch (all its feeds' entries, in order)
    feed_id: int
    entry: Prepared
    story: Story  # the item itself, as later items see it
    reason: Repeat | None  # why it repeats an earlier story; None when it starts one


class Batch:
    """The entries of one or more feeds, stored in one go.

    Every item is judged first, in order (feed by feed, each feed's entries in
    order), then all are inserted with one multi-row INSERT, their hits with one
    more and their alerts with another. The outcomes are those of storing the
    feeds one after the other; no feed may appear twice (see `distinct_feeds`)."""

    def __init__(self, sql: Statements, conn: Connection, feeds: Sequence[FeedBatch]) -> None:
        self.sql, self.conn = sql, conn
        self.sizes = [len(batch) for _, batch in feeds]
        self.batch = [entry for _, batch in feeds for entry in batch]
        self.feed_ids = [feed_id for feed_id, batch in feeds for _ in batch]  # of each entry
        self.now = datetime.now(UTC)
        self.index = StoryIndex(())
        self.hits: list[dict[str, Any]] = []
        self.texts: list[dict[str, Any]] = []
        self.prints: list[dict[str, Any]] = []

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
            self.index = StoryIndex(entries)
            self._lock_stories(entries)
            self._load_candidates(entries)
            for index, outcome in self._store(fresh):
                outcomes[index] = outcome
            if self.texts:
                self.conn.execute(self.sql.insert_texts, self.texts)
            if self.prints:
                self.conn.execute(self.sql.insert_prints, self.prints)
            if self.hits:
                self.conn.execute(self.sql.insert_hits, self.hits)
        flat = iter(outcomes)
        return [list(islice(flat, size)) for size in self.sizes]  # type: ignore[arg-type]  # all set by now

    # lookups ---------------------------------------------------------------

    def _known_guids(self) -> dict[tuple[int, str], int | None]:
        """(feed id, guid) of the batch already stored, with the story each belongs to."""
        if not self.batch:
            return {}
        pairs = {(feed_id, e.item.guid) for feed_id, e in zip(self.feed_ids, self.batch, strict=True)}
        rows = self.conn.execute(self.sql.known_guids, self.sql.pairs(pairs))
        return {(feed_id, guid): duplicate_of or item_id for feed_id, guid, item_id, duplicate_of in rows}

    def _lock_stories(self, entries: Sequence[Prepared]) -> None:
        if self.sql.dialect != "postgresql":
            return  # SQLite's BEGIN IMMEDIATE already serializes writers
        # Two instances storing the same syndicated text (or a trimmed copy under the
        # same headline) at once must agree on one story root. Sorted, so two batches
        # never wait on each other in a cycle.
        keys = sorted({int(e.fingerprint.content_hash[:15], 16) for e in entries}  # a key shared by chance only serializes
                      | {e.fingerprint.headline for e in entries if e.fingerprint.headline is not None})
        self.conn.execute(self.sql.lock_stories, {"keys": keys})

    def _load_candidates(self, entries: Sequence[Prepared]) -> None:
        sql, index = self.sql, self.index
        urls = {e.canonical_url for e in entries if e.canonical_url}
        if urls:
            for r in self.conn.execute(sql.by_url, {"urls": sql.values(urls)}):
                index.known_url(r.canonical_url, index.stored(r.id, r.duplicate_of, r.fingerprint))
        hashes = sql.values({e.fingerprint.content_hash for e in entries})
        for r in self.conn.execute(sql.by_hash, {"hashes": hashes}):
            index.known_hash(r.content_hash, index.stored(r.id, r.duplicate_of, r.fingerprint))
        wanted: dict[int, Story] = {}  # stored items whose text the policy needs
        pairs = index.band_pairs
        if any(pairs):
            rows = self.conn.execute(sql.by_band, {**sql.band_pairs(pairs), "since": self.now - STORY_WINDOW})
            for band_no, band, item_id, duplicate_of, simhash in rows:
                story = wanted[item_id] = index.stored(item_id, duplicate_of, simhash)
                index.near(story, band_no, band)
        if headlines := index.headlines:
            parameters = {"headlines": sql.values(headlines), "since": self.now - HEADLINE_WINDOW}
            for r in self.conn.execute(sql.by_headline, parameters):
                story = wanted[r.id] = index.stored(r.id, r.duplicate_of, r.fingerprint)
                index.known_headline(r.headline_key, story)
        if wanted:
            for item_id, text in self.conn.execute(sql.texts, {"ids": sql.values(wanted)}):
                index.known_text(wanted[item_id], text)

    # storing ---------------------------------------------------------------

    def _plan(self, index: int) -> _Planned:
        """Judge one item against the database and the batch's earlier items, and
        let the later ones see it."""
        entry = self.batch[index]
        reason, repeated = self.index.repeats(entry)
        return _Planned(index, self.feed_ids[index], entry, self.index.add(entry, repeated), reason)

    def _forget(self, planned: Sequence[_Planned]) -> None:
        for p in planned:
            self.index.remove(p.entry, p.story)

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
        return {(r.feed_id, r.guid): r.id for r in self.conn.execute(self.sql.insert_items, rows)}

    def _item_row(self, feed_id: int, entry: Prepared, story_id: int | None) -> dict[str, Any]:
        item, fp = entry.item, entry.fingerprint
        return {
            "feed_id": feed_id, "guid": item.guid, "url": item.url, "canonical_url": entry.canonical_url,
            "title": item.title, "published_at": item.published, "ingested_at": self.now,
            "language": item.language, "origin": item.origin, "place": item.place, "path": item.path,
            "flags": list(item.flags), "content_hash": fp.content_hash, "fingerprint": fp.simhash,
            "fp_band0": fp.bands[0], "fp_band1": fp.bands[1], "fp_band2": fp.bands[2],
            "fp_band3": fp.bands[3], "headline_key": fp.headline, "duplicate_of": story_id, "matched": bool(entry.hits),
            "delay_s": entry.delay_s, "relevance": None, "labelled_at": None, "rules_version": entry.rules_version,
        }

    def _finish(self, planned: Sequence[_Planned], ids: dict[tuple[int, str], int]) -> list[tuple[int, Outcome]]:
        """The stored items' ids, story links, hits and alerts, and their outcomes."""
        for p in planned:
            p.story.id = ids[p.feed_id, p.entry.item.guid]
        self._link_stories(planned)
        self._retry_articles(planned)
        alert_ids = self._alerts([p for p in planned if p.reason is None])
        outcomes = []
        for p in planned:
            item_id = p.story.id
            assert item_id is not None
            self.texts.append(text_row(item_id, p.entry.item))
            self.prints.append(print_row(item_id, self.now, p.entry.fingerprint))
            self.hits.extend(hit_rows(item_id, p.entry.hits))
            if p.reason is None:
                outcomes.append((p.index, Outcome("new", item_id, alert_ids=alert_ids.get(item_id, ()))))
            else:
                outcomes.append((p.index, Outcome("seen", item_id, p.reason, p.story.root_id)))
        return outcomes

    def _link_stories(self, planned: Sequence[_Planned]) -> None:
        """Repeats of a story that starts in this batch: its id exists only now."""
        links = [{"row_id": p.story.id, "root_id": p.story.root_id}
                 for p in planned if isinstance(p.story.root, Story)]
        if links:
            self.conn.execute(self.sql.link_story, links)

    def _retry_articles(self, planned: Sequence[_Planned]) -> None:
        """The articles to fetch again (`ArticleRetries`), stored with their items."""
        rows = [{"item_id": p.story.id, "feed_id": p.feed_id, "url": r.url, "attempts": 1,
                 "next_attempt_at": r.next_attempt_at, "give_up_at": r.give_up_at, "last_error": r.error}
                for p in planned if (r := p.entry.retry_article) is not None]
        if rows:
            self.conn.execute(self.sql.insert_retries, rows)

    def _alerts(self, planned: Sequence[_Planned]) -> dict[int, tuple[int, ...]]:
        """One INSERT for the outbox rows of all new items; their ids by item, in
        the order of the item's requests."""
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        for p in planned:
            assert p.story.id is not None
            for request in p.entry.alerts:
                rows.setdefault((p.story.id, request.channel),  # a repeated channel adds nothing
                                alert_row(p.story.id, p.entry.item, request, self.now))
        stored = {}
        if rows:
            result = self.conn.execute(self.sql.insert_alerts, list(rows.values()))
            stored = {(r.item_id, r.channel): r.id for r in result}
        by_item: dict[int, tuple[int, ...]] = {}
        for item_id, channel in rows:
            if (item_id, channel) in stored:
                by_item[item_id] = by_item.get(item_id, ()) + (stored[item_id, channel],)
        return by_item
