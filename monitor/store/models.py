"""Database tables. Alembic migrations are generated from these; `alembic check`
in the tests keeps the two from drifting apart.

Times are stored as timezone-aware UTC. Unique constraints, not application
code, make duplicate items and alerts impossible, including across processes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from monitor.states import AlertState

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Feed(Base):
    """A source of items: an HTTP feed, or `replay:…` for fixture files."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="http")  # "http" or "replay"
    listed_in: Mapped[str | None] = mapped_column(String(500))  # config file or OPML it came from
    title: Mapped[str | None] = mapped_column(String(500))  # the operator's (config or OPML), shown everywhere
    document_title: Mapped[str | None] = mapped_column(String(500))  # the feed's own, shown beside it
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    interval_s: Mapped[int | None] = mapped_column(Integer)
    publish_gap_s: Mapped[float | None] = mapped_column(Float)
    newest_entry_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    last_polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_new_item_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    configured_interval_s: Mapped[int | None] = mapped_column(Integer)  # the operator's slower interval
    push_until: Mapped[datetime | None] = mapped_column(UtcDateTime())  # a WebSub hub pushes until then
    slower_because: Mapped[str | None] = mapped_column(String(200))  # why the next poll is past the target
    # publications per hour of the week; a None given means SQL NULL ("keep" in FeedStore), not JSON null
    publish_hours: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    # configured: "feed" (a feed, or a page resolved by discovery) or "page" (a listing page)
    source_kind: Mapped[str] = mapped_column(String(10), default="feed", server_default="feed")
    link_selector: Mapped[str | None] = mapped_column(String(500))  # the operator's CSS selector of article links
    # what the URL was resolved to at the last good poll: "feed" or "page", and the URL read
    # (the source's own, or the feed its page declares); None: not yet, or to be resolved again
    resolved_as: Mapped[str | None] = mapped_column(String(10))
    resolved_url: Mapped[str | None] = mapped_column(String(2048))


class StoredItem(Base):
    """An item as stored. `duplicate_of` links a copy of a story (another source,
    a re-published URL) to the first item of that story, which owns the alerts."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("feed_id", "guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"))
    guid: Mapped[str] = mapped_column(String(1024))
    url: Mapped[str | None] = mapped_column(String(2048))
    canonical_url: Mapped[str | None] = mapped_column(String(2048), index=True)
    title: Mapped[str] = mapped_column(Text)  # the text and summary are in `ItemText`
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime())  # indexed below, with feed_id and delay_s
    language: Mapped[str | None] = mapped_column(String(35))
    origin: Mapped[str | None] = mapped_column(String(500))
    place: Mapped[str | None] = mapped_column(String(200))
    path: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[int] = mapped_column(BigInteger)
    # The SimHash's four bands, kept with the item; the near-copy lookup searches `StoryPrint`.
    fp_band0: Mapped[int] = mapped_column(Integer)
    fp_band1: Mapped[int] = mapped_column(Integer)
    fp_band2: Mapped[int] = mapped_column(Integer)
    fp_band3: Mapped[int] = mapped_column(Integer)
    headline_key: Mapped[int | None] = mapped_column(BigInteger)  # `dedupe.fingerprints.headline_key`; indexed below
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("items.id"))  # indexed below
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    # An analyst's judgement: None = not judged, "not-relevant" = kept but labelled.
    delay_s: Mapped[float | None] = mapped_column(Float)  # publication to first sight, live polls only
    relevance: Mapped[str | None] = mapped_column(String(20))
    labelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rules_version: Mapped[str | None] = mapped_column(String(16))  # the rule set that made its hits
    # The last `monitor reclassify` that changed its hits: when, and what changed ("no longer matches…").
    # An item that no longer matches keeps its sent alerts.
    reclassified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reclassified_note: Mapped[str | None] = mapped_column(Text)

    hits: Mapped[list[StoredHit]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="StoredHit.id"
    )


class ItemText(Base):
    """What an item said: the bulk of a year's data, and the only part retention
    drops, by deleting this row. A table of its own because dropping a column
    value of `items` is an UPDATE that PostgreSQL writes into every index of the
    table (not a HOT update): 1,019 s for the texts of a year at 5 M items,
    against 33 s for these DELETEs (bench/README.md)."""

    __tablename__ = "item_texts"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    text: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)  # the feed's text, when `text` is the fetched article


class StoryPrint(Base):
    """The fingerprint of an item while it is within the story window (14 days, see
    `monitor.dedupe.stories`): what the lookup of near copies searches. A table as big
    as the window, not the year: indexed on the items' table, the four bands of every
    item ever stored (1 GB at 5 M items) put each new item's four entries on leaves
    anywhere in it: ingest at 5 M ran at 0.79x its rate on an empty database, 0.86x
    with this table (bench/README.md). Retention deletes the rows that left the window."""

    __tablename__ = "story_prints"
    __table_args__ = (
        # Each band with the ingestion time and the SimHash: a lookup reads only the
        # window's entries and counts each one's distance without reading its row.
        Index("ix_story_prints_band0", "band0", "ingested_at", "fingerprint"),
        Index("ix_story_prints_band1", "band1", "ingested_at", "fingerprint"),
        Index("ix_story_prints_band2", "band2", "ingested_at", "fingerprint"),
        Index("ix_story_prints_band3", "band3", "ingested_at", "fingerprint"),
    )

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fingerprint: Mapped[int] = mapped_column(BigInteger)
    band0: Mapped[int] = mapped_column(Integer)
    band1: Mapped[int] = mapped_column(Integer)
    band2: Mapped[int] = mapped_column(Integer)
    band3: Mapped[int] = mapped_column(Integer)


class RetentionMark(Base):
    """How far a retention task has gone (`monitor.store.retention`): its rows up to
    `last_id` are done (texts, hits and prints: an item id; attempts: an attempt id). Rows
    are walked in id order, the order they were stored, so a run resumes where the
    last one stopped instead of stepping over a year of rows already done."""

    __tablename__ = "retention_marks"

    task: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)


class ArticleRetry(Base):
    """An item whose linked article could not be fetched: stored and classified on
    the feed's text, and its article tried again at `next_attempt_at` until
    `give_up_at` (then `next_attempt_at` is NULL and the row stays for the operator)."""

    __tablename__ = "article_retries"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    give_up_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RulesVersionRow(Base):
    """A version of the rule set, recorded when a process first classifies with it
    (`monitor.rules.version`): the id items point to, each rule's digest (to say
    which rules changed from one version to the next) and the files it came from."""

    __tablename__ = "rules_versions"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    rules: Mapped[dict[str, str]] = mapped_column(JSON)  # rule id -> digest
    files: Mapped[list[list[str]]] = mapped_column(JSON)  # [file, modification time]


class ReclassifyRun(Base):
    """One `monitor reclassify`: how far it got. Each batch advances `last_item_id`
    in the transaction that rewrites the batch's hits, so a run killed at any point
    resumes exactly where its last batch ended."""

    __tablename__ = "reclassify_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)  # the rules version and the options
    rules_version: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_item_id: Mapped[int] = mapped_column(Integer, default=0)
    scanned: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)


def _partial(name: str, *columns: Any, where: Any) -> Index:
    """An index over the rows `where` holds, on both backends (the same SQL as the queries')."""
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


_items = StoredItem.__table__.c
# The hot queries of a year of data (bench/year.py; tests/store/test_plans.py checks they are used):
# the matches list, newest first, and its count (stories that matched: a tenth of the items); with
# relevance, for the chart and "hide not relevant", and the predicate's columns, without which SQLite
# does not call an index covering;
_partial("ix_items_matches", _items.ingested_at, _items.id, _items.relevance, _items.matched, _items.duplicate_of,
         where=_items.matched.is_(True) & _items.duplicate_of.is_(None))
# the source filter and its choices (a feed's matched items, copies included). Not with duplicate_of:
# at 5 M items SQLite's statistics then chose it for the whole list (a skip scan of every feed for
# `duplicate_of IS NULL`, then a sort of 470,000 stories: 5 s a page);
_partial("ix_items_matched_feed", _items.feed_id, where=_items.matched.is_(True))
# retention's walk over the items that matched nothing, in the order they were stored;
_partial("ix_items_unmatched", _items.id, where=_items.matched.is_(False))
# the copies of a story (a partial index: one over every row would offer its 94 % NULLs to the
# planner for `duplicate_of IS NULL`, and SQLite, without statistics, would take it);
_partial("ix_items_duplicate_of", _items.duplicate_of, where=_items.duplicate_of.is_not(None))
# the feeds page and /metrics: items per feed and delays over a recent window, from the index alone.
Index("ix_items_ingested_at_feed_id", _items.ingested_at, _items.feed_id, _items.delay_s)
# the same-headline lookup of a commit, within the story window. Partial: items stored before
# headline keys existed hold NULL, and with statistics counting those SQLite judged a full
# index useless and scanned the whole table on every commit (a year's database: 5x slower ingest).
_partial("ix_items_headline", _items.headline_key, _items.ingested_at, where=_items.headline_key.is_not(None))


class StoredHit(Base):
    __tablename__ = "hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    __table_args__ = (
        # A story's hits, and whether it has one of a rule (the rule filter, the chart), from the index.
        Index("ix_hits_item_rule", "item_id", "rule"),
    )

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(100), index=True)
    term: Mapped[str] = mapped_column(String(500))
    field: Mapped[str] = mapped_column(String(10))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    matched: Mapped[str] = mapped_column(Text)

    item: Mapped[StoredItem] = relationship(back_populates="hits")


class Alert(Base):
    """The outbox: one row per (story, channel), written in the same transaction
    as the item's hits, delivered at least once under `idempotency_key`.

    `kind` "item" is one story's alert; `kind` "digest" is a message collecting
    the digest-mode alerts of one channel and period (no item of its own), which
    its members point to through `digest_id`. States: pending (due at
    `next_attempt_at`; never, for digest members still waiting), sent, dead,
    digested (handed to a digest that is not delivered yet).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("item_id", "channel"),
        Index("ix_alerts_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_alerts_channel_state", "channel", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="item", server_default="item")
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(20), default="immediate")
    rules: Mapped[list[str]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=AlertState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    period_start: Mapped[datetime | None] = mapped_column(UtcDateTime())  # digests: first match collected
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttempt(Base):
    """Every try at delivering an alert, successful or not, for the operator."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str | None] = mapped_column(String(200))  # HTTP code or SMTP reply
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class ChannelState(Base):
    """A channel switched off by its receiver (a webhook answering 410 Gone).

    A row means disabled. It goes away when an operator re-enables the channel,
    or when the config is reloaded with that channel changed (`config_hash`):
    a new URL deserves a new try, the same dead URL does not.
    """

    __tablename__ = "channel_states"

    channel: Mapped[str] = mapped_column(String(100), primary_key=True)
    disabled_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text)
    config_hash: Mapped[str] = mapped_column(String(64))


class Subscription(Base):
    """A WebSub subscription: a hub pushes a feed's updates to our callback."""

    __tablename__ = "websub_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), unique=True)
    hub: Mapped[str] = mapped_column(String(2048))
    topic: Mapped[str] = mapped_column(String(2048))
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the callback URL's last segment
    secret: Mapped[str] = mapped_column(String(128))  # HMAC key the hub signs deliveries with
    state: Mapped[str] = mapped_column(String(20))  # SubscriptionState
    lease_s: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_push_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    pushes: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)  # deliveries dropped: unsigned or badly signed
    last_error: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # when the subscriber job acts next
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed or denied requests
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # the instance asking the hub now
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
