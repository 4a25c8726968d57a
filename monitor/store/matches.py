"""A stored match as every reader sees it: the dashboard, the Atom feed and
the alerts all show the same story, so they read it through one model.

A match is a story: the first stored item of it (`duplicate_of IS NULL`), the
hits in it, and every copy of it stored since (other sources that carried the
same text). Copies keep arriving after the match, so an alert reads the story
when it is delivered, not when it was queued.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Select, select

from monitor.items import Hit
from monitor.store.models import Feed, ItemText, StoredHit, StoredItem

feeds_t = Feed.__table__
items_t = StoredItem.__table__
hits_t = StoredHit.__table__
texts_t = ItemText.__table__

NOT_RELEVANT = "not-relevant"


@dataclass(frozen=True, slots=True)
class Source:
    """One copy of a story: the feed it came from and when it was stored."""

    item_id: int
    feed_id: int
    feed_url: str  # the feed URL (or replay:… for fixtures)
    feed_title: str | None  # the operator's title for the feed (config or OPML)
    url: str | None
    title: str
    origin: str | None  # the publisher: the feed's own title, or the one named in the text ("BelTA")
    published_at: datetime | None
    ingested_at: datetime
    document_title: str | None = None  # the feed's own title, as its latest poll read it

    @property
    def label(self) -> str:
        """The feed, as the dashboard lists feeds: the operator's title first."""
        return self.feed_title or self.document_title or self.feed_url

    @property
    def name(self) -> str:
        """The source as an alert names it: the operator's title for the feed, else
        the publisher the item names, else the feed's own title or host."""
        return self.feed_title or self.origin or self.document_title or urlsplit(self.feed_url).hostname or \
            self.feed_url

    @property
    def beside(self) -> str | None:
        """The publisher as the item names it, shown beside `name`/`label` when it says
        something else (the feed's own title beside the operator's)."""
        return self.origin if self.origin and self.origin not in (self.name, self.label) else None


@dataclass(frozen=True, slots=True)
class Match:
    """A matching story: its first item, its hits, and every source that carried it."""

    id: int
    guid: str
    title: str
    text: str | None  # None once retention dropped it
    url: str | None
    language: str | None
    place: str | None
    hits: tuple[Hit, ...]
    sources: tuple[Source, ...]  # the first item first, then its copies by arrival
    relevance: str | None = None
    labelled_at: datetime | None = None
    rules_version: str | None = None  # the rule set that made `hits`
    reclassified_note: str | None = None  # what the last `monitor reclassify` changed, if it did
    matched: bool = True  # False: the rules no longer match it (see `reclassified_note`)

    @property
    def source(self) -> Source:
        return self.sources[0]

    @property
    def extra_sources(self) -> tuple[Source, ...]:
        return self.sources[1:]

    @property
    def published_at(self) -> datetime | None:
        return self.source.published_at

    @property
    def ingested_at(self) -> datetime:
        return self.source.ingested_at

    @property
    def origin(self) -> str | None:
        return self.source.origin

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(sorted({h.rule for h in self.hits}))

    @property
    def not_relevant(self) -> bool:
        return self.relevance == NOT_RELEVANT

    def hits_in(self, field_name: str) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.field == field_name)

    def field_text(self, hit: Hit) -> str:
        """The text a hit's offsets point into ('' once retention dropped it)."""
        return self.title if hit.field == "title" else (self.text or "")


def item_select() -> Select[Any]:
    """Items with what a `Source` needs of their feed."""
    return select(
        items_t.c.id, items_t.c.guid, items_t.c.feed_id, items_t.c.duplicate_of, items_t.c.title, texts_t.c.text,
        items_t.c.url, items_t.c.published_at, items_t.c.ingested_at, items_t.c.origin, items_t.c.place,
        items_t.c.language, items_t.c.relevance, items_t.c.labelled_at, items_t.c.rules_version,
        items_t.c.reclassified_note, items_t.c.matched,
        feeds_t.c.url.label("feed_url"), feeds_t.c.title.label("feed_title"), feeds_t.c.document_title,
    ).select_from(items_t.join(feeds_t, items_t.c.feed_id == feeds_t.c.id)
                  .outerjoin(texts_t, texts_t.c.item_id == items_t.c.id))


def read_matches(conn: Connection, rows: Sequence[Any], rules: Collection[str] | None = None) -> list[Match]:
    """The stories of `rows` (from `item_select`), in their order; hits only
    of `rules` when given (an alert shows the rules it was routed for)."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    hit_query = select(hits_t).where(hits_t.c.item_id.in_(ids)).order_by(hits_t.c.item_id, hits_t.c.id)
    if rules is not None:
        hit_query = hit_query.where(hits_t.c.rule.in_(list(rules)))
    hits: dict[int, list[Hit]] = defaultdict(list)
    for h in conn.execute(hit_query):
        hits[h.item_id].append(Hit(h.rule, h.term, h.field, h.start, h.end, h.matched))
    copies: dict[int, list[Source]] = defaultdict(list)
    for c in conn.execute(
        item_select().where(items_t.c.duplicate_of.in_(ids)).order_by(items_t.c.ingested_at, items_t.c.id)
    ):
        copies[c.duplicate_of].append(_source(c))
    return [
        Match(
            id=r.id, guid=r.guid, title=r.title, text=r.text, url=r.url, language=r.language, place=r.place,
            hits=tuple(hits[r.id]), sources=(_source(r), *copies[r.id]),
            relevance=r.relevance, labelled_at=r.labelled_at, rules_version=r.rules_version,
            reclassified_note=r.reclassified_note, matched=r.matched,
        )
        for r in rows
    ]


def read_match(conn: Connection, item_id: int, rules: Collection[str] | None = None) -> Match | None:
    """The story whose first item is `item_id`, or None when there is no such item."""
    rows = conn.execute(item_select().where(items_t.c.id == item_id)).all()
    found = read_matches(conn, rows, rules)
    return found[0] if found else None


def _source(row: Any) -> Source:
    return Source(
        item_id=row.id, feed_id=row.feed_id, feed_url=row.feed_url, feed_title=row.feed_title, url=row.url,
        title=row.title, origin=row.origin, published_at=row.published_at, ingested_at=row.ingested_at,
        document_title=row.document_title,
    )
