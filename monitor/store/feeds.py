"""Feed state: the list of feeds, when each is due, and who holds it.

Due times live here, not in the scheduler's memory, so a restart or a second
instance picks up exactly where things stand. A feed is claimed with one atomic
UPDATE … RETURNING (with FOR UPDATE SKIP LOCKED on PostgreSQL): two ticks or two
processes can never hold the same feed at once, and a crashed holder's lease
simply expires. Every time here is the database's (`engine.database_now`) unless
a caller passes one: instances whose clocks disagree still agree on leases and
due times.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, and_, bindparam, case, func, literal, or_, select, type_coerce, update

from monitor.states import FeedHealth
from monitor.store.engine import database_now
from monitor.store.models import Feed, UtcDateTime

feeds_t = Feed.__table__

REMOVED = "removed from the configuration"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T", bound=tuple[Any, ...])


@dataclass(frozen=True, slots=True)
class ListedFeed:
    """A feed as the operator lists it (config or OPML)."""

    url: str
    title: str | None
    listed_in: str
    interval_s: int | None = None  # the operator's slower interval for this source
    kind: str = "feed"  # "feed" (a feed, or a page resolved by discovery) or "page" (a listing page)
    links: str | None = None  # a listing page's CSS selector of article links (None: found automatically)
    fulltext: str = "auto"  # fetch linked articles: "auto" (summaries), "always", "never"
    robots: bool = True  # honour robots.txt for those fetches


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: int
    removed: int
    restored: int
    total: int


@dataclass(frozen=True, slots=True)
class FeedState:
    id: int
    url: str
    title: str | None  # the operator's (config or OPML): what every output calls the feed
    document_title: str | None  # the feed's own, as its document states it: shown beside
    enabled: bool
    disabled_reason: str | None
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None
    lease_owner: str | None
    interval_s: int | None
    publish_gap_s: float | None
    newest_entry_at: datetime | None
    stale: bool
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_errors: int
    items_seen: int
    listed_in: str | None
    configured_interval_s: int | None
    slower_because: str | None
    publish_hours: list[int] | None
    push_until: datetime | None  # a verified WebSub subscription pushes this feed's updates until then
    source_kind: str  # as configured: "feed" or "page"
    link_selector: str | None
    resolved_as: str | None  # what the last good poll read: "feed" or "page" (None: not yet known)
    resolved_url: str | None  # and from which URL: the source's own, or the feed its page declares

    @property
    def reading(self) -> str:
        """How the next poll reads what it fetches (`monitor.ingest.discovery.Reading`)."""
        if self.source_kind == "page":
            return "page"
        return "feed" if self.resolved_url not in (None, self.url) else "auto"

    @property
    def fetch_url(self) -> str:
        """What the next poll fetches: the feed the page declared, else the source's URL."""
        return self.resolved_url if self.reading == "feed" and self.resolved_url else self.url

    @property
    def name(self) -> str:
        """The feed as the operator sees it: their title, else the feed's own, else its URL."""
        return self.title or self.document_title or self.url

    @property
    def beside(self) -> str | None:
        """The feed's own title, shown beside the operator's when they differ."""
        return self.document_title if self.title and self.document_title not in (None, self.title) else None

    def pushed(self, now: datetime) -> bool:
        return self.push_until is not None and self.push_until > now

    @property
    def health(self) -> FeedHealth:
        """What an operator looks for first (`FeedHealth`)."""
        if not self.enabled:
            return FeedHealth.DISABLED
        if self.consecutive_errors:
            return FeedHealth.BACKING_OFF
        if self.stale:
            return FeedHealth.STALE
        return FeedHealth.OK if self.last_success_at else FeedHealth.NEW


@dataclass(frozen=True, slots=True)
class Success:
    """The outcome of one good poll, as `FeedStore.record_many` writes it."""

    feed_id: int
    now: datetime
    next_poll_at: datetime
    interval_s: int
    etag: str | None
    last_modified: str | None
    document_title: str | None = None  # the feed's own title; None (or empty): keep the stored one
    publish_gap_s: float | None = None  # None: keep the stored one
    newest_entry_at: datetime | None = None  # None: keep the stored one
    stale: bool = False
    problem: str | None = None  # a malformed-but-usable feed succeeds, and still says what is wrong
    slower_because: str | None = None  # why the next poll is past the latency target
    publish_hours: list[int] | None = None  # None: keep the stored ones
    resolved_as: str | None = None  # what was read ("feed" or "page") and from where
    resolved_url: str | None = None

    def params(self, owner: str) -> dict[str, object]:
        return {
            "b_id": self.feed_id, "b_owner": owner, "next_poll_at": self.next_poll_at,
            "interval_s": self.interval_s, "etag": self.etag, "last_modified": self.last_modified,
            "last_polled_at": self.now, "last_success_at": self.now, "stale": self.stale,
            "last_error": self.problem, "last_error_at": self.now if self.problem else None,
            "slower_because": self.slower_because,
            "b_document_title": self.document_title or None, "b_publish_gap_s": self.publish_gap_s,
            "b_newest_entry_at": self.newest_entry_at, "b_publish_hours": self.publish_hours,
            "b_resolved_as": self.resolved_as, "b_resolved_url": self.resolved_url,
        }


def _keep_unless_given(column: str) -> object:
    """SET column = coalesce(:b_column, column): one statement serves every row of a batch,
    whether or not that poll learnt a new value."""
    col = feeds_t.c[column]
    return func.coalesce(bindparam(f"b_{column}", type_=col.type), col)


# Built once: a batch of successes is one executemany of this statement, in one transaction.
_RECORD_SUCCESS = (
    feeds_t.update()
    .where(feeds_t.c.id == bindparam("b_id"), feeds_t.c.lease_owner == bindparam("b_owner"))
    .values(
        {name: bindparam(name, type_=feeds_t.c[name].type) for name in (
            "next_poll_at", "interval_s", "etag", "last_modified", "last_polled_at", "last_success_at",
            "stale", "last_error", "last_error_at", "slower_because",
        )}
        | {name: _keep_unless_given(name)
           for name in ("document_title", "publish_gap_s", "newest_entry_at", "publish_hours",
                         "resolved_as", "resolved_url")}
        | {"consecutive_errors": 0, "lease_owner": None, "lease_until": None}
    )
)

_COLUMNS = [feeds_t.c[name] for name in FeedState.__slots__]  # type: ignore[attr-defined]


def _due(query: Select[T], due_by: datetime, now: datetime) -> Select[T]:
    """Enabled HTTP feeds due by `due_by` and not leased at `now`, most overdue first."""
    return query.where(
        feeds_t.c.enabled.is_(True),
        feeds_t.c.kind == "http",
        or_(feeds_t.c.next_poll_at.is_(None), feeds_t.c.next_poll_at <= due_by),
        or_(feeds_t.c.lease_until.is_(None), feeds_t.c.lease_until < now),
    ).order_by(feeds_t.c.next_poll_at.asc().nulls_first(), feeds_t.c.id)


def _state(row: object) -> FeedState:
    return FeedState(**{name: getattr(row, name) for name in FeedState.__slots__})  # type: ignore[attr-defined]


class FeedStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._skip_locked = engine.dialect.name == "postgresql"

    def now(self) -> datetime:
        """The database's time (the poller dates its results from it)."""
        with self.engine.connect() as conn:
            return database_now(conn)

    def sync(self, listed: Sequence[ListedFeed], now: datetime | None = None) -> SyncReport:
        """Make the table match the operator's list: add new feeds (due at once),
        disable removed ones (their history stays), re-enable re-listed ones.

        Only rows that change are written: every instance syncs at start while
        others may be committing polls, and rewriting an unchanged row would take
        its lock (in list order, against their order: a deadlock)."""
        wanted = {f.url: f for f in listed}
        added = removed = restored = 0
        with self.engine.begin() as conn:
            now = now or database_now(conn)
            rows = conn.execute(
                select(feeds_t.c.id, feeds_t.c.url, feeds_t.c.enabled, feeds_t.c.disabled_reason,
                       feeds_t.c.listed_in, feeds_t.c.title, feeds_t.c.configured_interval_s,
                       feeds_t.c.source_kind, feeds_t.c.link_selector)
                .where(feeds_t.c.kind == "http")
            ).all()
            known = {r.url: r for r in rows}
            for url, feed in wanted.items():
                row = known.get(url)
                if row is None:
                    inserted = conn.execute(
                        self._insert_new().values(
                            url=url, kind="http", title=feed.title, listed_in=feed.listed_in,
                            enabled=True, next_poll_at=now, consecutive_errors=0, items_seen=0,
                            stale=False, created_at=now, configured_interval_s=feed.interval_s,
                            source_kind=feed.kind, link_selector=feed.links,
                        ).returning(feeds_t.c.id)
                    ).first()
                    added += inserted is not None
                    continue
                values: dict[str, object] = {}
                if row.listed_in != feed.listed_in:
                    values["listed_in"] = feed.listed_in
                if row.configured_interval_s != feed.interval_s:
                    values["configured_interval_s"] = feed.interval_s
                if row.title != feed.title:  # the operator's title only: a poll never writes it
                    values["title"] = feed.title
                if (row.source_kind, row.link_selector) != (feed.kind, feed.links):
                    # read differently from now on: resolve again, without the old validators
                    values.update(source_kind=feed.kind, link_selector=feed.links, resolved_as=None,
                                  resolved_url=None, etag=None, last_modified=None, next_poll_at=now)
                if not row.enabled and row.disabled_reason == REMOVED:
                    values.update(enabled=True, disabled_reason=None, next_poll_at=now)
                    restored += 1
                if values:
                    conn.execute(feeds_t.update().where(feeds_t.c.id == row.id).values(**values))
            for url, row in known.items():
                if url not in wanted and row.enabled:
                    conn.execute(
                        feeds_t.update()
                        .where(feeds_t.c.id == row.id)
                        .values(enabled=False, disabled_reason=REMOVED, lease_owner=None, lease_until=None)
                    )
                    removed += 1
        return SyncReport(added, removed, restored, len(wanted))

    def due(self, *, due_by: datetime | None = None, now: datetime | None = None) -> list[tuple[int, str]]:
        """(id, url) of the feeds `claim_due` would lease, most overdue first, without leasing
        them: the poller plans the order of a cycle's claims from this (see `Poller`)."""
        with self.engine.connect() as conn:
            now = now or database_now(conn)
            rows = conn.execute(_due(select(feeds_t.c.id, feeds_t.c.url), due_by or now, now)).all()
        return [(r.id, r.url) for r in rows]

    def _insert_new(self) -> Any:
        """INSERT that leaves an existing url alone: two instances starting together
        both find a new feed missing, and only one may add it."""
        from sqlalchemy.dialects import postgresql, sqlite  # the one in use is loaded already

        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        return insert(feeds_t).on_conflict_do_nothing(index_elements=[feeds_t.c.url])

    def claim_due(
        self, owner: str, lease: timedelta, limit: int, *, due_by: datetime | None = None,
        now: datetime | None = None, ids: Collection[int] | None = None,
    ) -> list[FeedState]:
        """Lease up to `limit` feeds due by `due_by` (default: now) to `owner`; only
        among `ids` if given (a feed someone else leased meanwhile is skipped)."""
        with self.engine.begin() as conn:
            now = now or database_now(conn)
            due = _due(select(feeds_t.c.id), due_by or now, now).limit(limit)
            if ids is not None:
                due = due.where(feeds_t.c.id.in_(ids))
            if self._skip_locked:
                due = due.with_for_update(skip_locked=True)
            rows = conn.execute(
                update(feeds_t)
                .where(feeds_t.c.id.in_(due.scalar_subquery()))
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(*_COLUMNS)
            ).all()
        return sorted((_state(r) for r in rows), key=lambda f: f.id)

    def make_all_due(self, now: datetime | None = None) -> int:
        """`poll --all`: every enabled feed is due now (leases are still honoured)."""
        with self.engine.begin() as conn:
            return conn.execute(
                feeds_t.update()
                .where(feeds_t.c.enabled.is_(True), feeds_t.c.kind == "http")
                .values(next_poll_at=now or database_now(conn))
            ).rowcount

    def next_due(self) -> datetime | None:
        """When the earliest enabled feed can next be claimed (None: there are none).

        That is its `next_poll_at`, or the end of a lease someone else holds on it
        if that is later: a feed another instance is polling is not due for us.
        A feed never polled counts as due at the epoch, i.e. now. One indexed-size
        scan of the feed table: cheap enough to ask after every cycle.
        """
        due = func.coalesce(feeds_t.c.next_poll_at, literal(_EPOCH, UtcDateTime()))
        claimable_at = case(
            (and_(feeds_t.c.lease_until.is_not(None), feeds_t.c.lease_until > due), feeds_t.c.lease_until),
            else_=due,
        )
        with self.engine.connect() as conn:
            return conn.execute(
                select(type_coerce(func.min(claimable_at), UtcDateTime()))
                .where(feeds_t.c.enabled.is_(True), feeds_t.c.kind == "http")
            ).scalar_one()

    def record_success(
        self,
        feed_id: int,
        owner: str,
        *,
        now: datetime,
        next_poll_at: datetime,
        interval_s: int,
        etag: str | None,
        last_modified: str | None,
        document_title: str | None = None,
        publish_gap_s: float | None = None,
        newest_entry_at: datetime | None = None,
        stale: bool = False,
        problem: str | None = None,
        slower_because: str | None = None,
    ) -> bool:
        """Store the outcome of a good poll; False if our lease was lost meanwhile."""
        success = Success(feed_id, now, next_poll_at, interval_s, etag, last_modified, document_title, publish_gap_s,
                          newest_entry_at, stale, problem, slower_because)
        return self.record_many(owner, [success]) == 1

    def record_many(self, owner: str, successes: Sequence[Success]) -> int:
        """Store several good polls in one transaction; how many we still held.

        A feed whose lease we lost meanwhile (it expired and another process
        took it) is left to its new holder. Batched because a transaction per
        feed dominates a cycle of 304s.
        """
        if not successes:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(_RECORD_SUCCESS, [s.params(owner) for s in successes]).rowcount

    def record_failure(
        self, feed_id: int, owner: str, *, now: datetime, error: str, next_poll_at: datetime, gone: bool = False,
        slower_because: str | None = None, unresolve: bool = False,
    ) -> bool:
        """`unresolve`: the feed a page declared failed; the next poll starts from the page again."""
        values: dict[str, object] = dict(
            next_poll_at=next_poll_at, last_polled_at=now, last_error=error, last_error_at=now,
            consecutive_errors=feeds_t.c.consecutive_errors + 1, lease_owner=None, lease_until=None,
            slower_because=slower_because,
        )
        if unresolve:
            values.update(resolved_as=None, resolved_url=None, etag=None, last_modified=None)
        if gone:
            values.update(enabled=False, disabled_reason=f"410 Gone: {error}")
        return self._update_held(feed_id, owner, values)

    def _update_held(self, feed_id: int, owner: str, values: dict[str, object]) -> bool:
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    feeds_t.update()
                    .where(and_(feeds_t.c.id == feed_id, feeds_t.c.lease_owner == owner))
                    .values(**values)
                ).rowcount
            )

    def release(self, owner: str) -> int:
        """Give back every lease we hold (clean shutdown): others may poll at once."""
        with self.engine.begin() as conn:
            return conn.execute(
                feeds_t.update()
                .where(feeds_t.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            ).rowcount

    def all(self) -> list[FeedState]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_COLUMNS).where(feeds_t.c.kind == "http").order_by(feeds_t.c.id)
            ).all()
        return [_state(r) for r in rows]
