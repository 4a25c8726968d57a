"""Feed state: the list of feeds, when each is due, and who holds it.

Due times live here, not in the scheduler's memory, so a restart or a second
instance picks up exactly where things stand. A feed is claimed with one atomic
UPDATE … RETURNING (with FOR UPDATE SKIP LOCKED on PostgreSQL): two ticks or two
processes can never hold the same feed at once, and a crashed holder's lease
simply expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update

from monitor.store.models import Feed

feeds_t = Feed.__table__

REMOVED = "removed from the configuration"


@dataclass(frozen=True, slots=True)
class ListedFeed:
    """A feed as the operator lists it (config or OPML)."""

    url: str
    title: str | None
    listed_in: str


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
    title: str | None
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

    @property
    def health(self) -> str:
        """ok, backing-off, stale, disabled or new: what an operator looks for first."""
        if not self.enabled:
            return "disabled"
        if self.consecutive_errors:
            return "backing-off"
        if self.stale:
            return "stale"
        return "ok" if self.last_success_at else "new"


_COLUMNS = [feeds_t.c[name] for name in FeedState.__slots__]  # type: ignore[attr-defined]


def _state(row: object) -> FeedState:
    return FeedState(**{name: getattr(row, name) for name in FeedState.__slots__})  # type: ignore[attr-defined]


class FeedStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._skip_locked = engine.dialect.name == "postgresql"

    def sync(self, listed: Sequence[ListedFeed], now: datetime | None = None) -> SyncReport:
        """Make the table match the operator's list: add new feeds (due at once),
        disable removed ones (their history stays), re-enable re-listed ones."""
        now = now or datetime.now(UTC)
        wanted = {f.url: f for f in listed}
        added = removed = restored = 0
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(feeds_t.c.id, feeds_t.c.url, feeds_t.c.enabled, feeds_t.c.disabled_reason)
                .where(feeds_t.c.kind == "http")
            ).all()
            known = {r.url: r for r in rows}
            for url, feed in wanted.items():
                row = known.get(url)
                if row is None:
                    conn.execute(
                        feeds_t.insert().values(
                            url=url, kind="http", title=feed.title, listed_in=feed.listed_in,
                            enabled=True, next_poll_at=now, consecutive_errors=0, items_seen=0,
                            stale=False, created_at=now,
                        )
                    )
                    added += 1
                    continue
                values: dict[str, object] = {"listed_in": feed.listed_in}
                if feed.title:
                    values["title"] = feed.title
                if not row.enabled and row.disabled_reason == REMOVED:
                    values.update(enabled=True, disabled_reason=None, next_poll_at=now)
                    restored += 1
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

    def claim_due(
        self, owner: str, lease: timedelta, limit: int, *, due_by: datetime | None = None,
        now: datetime | None = None,
    ) -> list[FeedState]:
        """Lease up to `limit` feeds due by `due_by` (default: now) to `owner`."""
        now = now or datetime.now(UTC)
        due_by = due_by or now
        due = (
            select(feeds_t.c.id)
            .where(
                feeds_t.c.enabled.is_(True),
                feeds_t.c.kind == "http",
                or_(feeds_t.c.next_poll_at.is_(None), feeds_t.c.next_poll_at <= due_by),
                or_(feeds_t.c.lease_until.is_(None), feeds_t.c.lease_until < now),
            )
            .order_by(feeds_t.c.next_poll_at.asc().nulls_first(), feeds_t.c.id)
            .limit(limit)
        )
        if self._skip_locked:
            due = due.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
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
                .values(next_poll_at=now or datetime.now(UTC))
            ).rowcount

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
        title: str | None = None,
        publish_gap_s: float | None = None,
        newest_entry_at: datetime | None = None,
        stale: bool = False,
        problem: str | None = None,
    ) -> bool:
        """Store the outcome of a good poll; False if our lease was lost meanwhile."""
        values: dict[str, object] = dict(
            next_poll_at=next_poll_at, interval_s=interval_s, etag=etag, last_modified=last_modified,
            last_polled_at=now, last_success_at=now, consecutive_errors=0, stale=stale,
            lease_owner=None, lease_until=None,
            # A malformed-but-usable feed succeeds, and still says what is wrong with it.
            last_error=problem, last_error_at=now if problem else None,
        )
        if title:
            values["title"] = title
        if publish_gap_s is not None:
            values["publish_gap_s"] = publish_gap_s
        if newest_entry_at is not None:
            values["newest_entry_at"] = newest_entry_at
        return self._update_held(feed_id, owner, values)

    def record_failure(
        self, feed_id: int, owner: str, *, now: datetime, error: str, next_poll_at: datetime, gone: bool = False
    ) -> bool:
        values: dict[str, object] = dict(
            next_poll_at=next_poll_at, last_polled_at=now, last_error=error, last_error_at=now,
            consecutive_errors=feeds_t.c.consecutive_errors + 1, lease_owner=None, lease_until=None,
        )
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
