"""The read side the dashboard, the Atom feed and the metrics need, as typed queries.

Kept apart from `repository` (the write path of the pipeline) because its
shape is the analyst's, not the pipeline's: a *match* is a story
(`monitor.store.matches`), shown with the alerts it caused. Every query is
bounded (pagination, a fixed day window, GROUP BY) so a page costs the same
with ten matches or ten million.

The one write here is `mark_not_relevant`, the analyst's label: it keeps the
item and its hits, and suppresses the alerts not yet sent, in one transaction;
`unmark` undoes it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Engine,
    and_,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from monitor.errors import InputError
from monitor.states import AlertMode, AlertState, FeedHealth
from monitor.store.feeds import FeedState, FeedStore
from monitor.store.matches import NOT_RELEVANT, Match, item_select, read_match, read_matches
from monitor.store.models import Alert, DeliveryAttempt, Feed, StoredHit, StoredItem

feeds_t = Feed.__table__
items_t = StoredItem.__table__
hits_t = StoredHit.__table__
alerts_t = Alert.__table__
attempts_t = DeliveryAttempt.__table__

HEALTH_STATES = tuple(FeedHealth)
ALERT_STATES = tuple(AlertState)  # always reported, even at zero
DELAY_DAYS = 30  # the window of the publication-to-first-sight figures
# A month of delays is 400,000 rows at 7 M items a year: the feeds page and every /metrics
# scrape reuse them for this long (a month's percentiles move little in five minutes).
DELAY_CACHE_S = 300.0
COUNT_CAP = 10_000  # matches counted at most: past it a list says "10,000+" (a year holds 500,000)


class MatchNotFound(InputError, LookupError):
    """No stored item has this id."""


@dataclass(frozen=True, slots=True)
class MatchFilter:
    """What the analyst narrowed the list to; `until` is inclusive (whole UTC day)."""

    rule: str | None = None
    feed_id: int | None = None
    since: date | None = None
    until: date | None = None
    hide_not_relevant: bool = False


@dataclass(frozen=True, slots=True)
class Position:
    """Where a newest-first reading of matches stopped: the last story's (stored at, id)."""

    stored_at: datetime
    id: int

    @classmethod
    def of(cls, match: Match) -> Position:
        return cls(match.ingested_at, match.id)


@dataclass(frozen=True, slots=True)
class MatchPage:
    matches: tuple[Match, ...]
    total: int  # at most COUNT_CAP; `more` says there are more
    page: int
    per_page: int
    more: bool = False  # more than `total` match: counting them all would cost a scan of the year

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or (self.more and len(self.matches) == self.per_page)


@dataclass(frozen=True, slots=True)
class Delivery:
    at: datetime
    ok: bool
    status: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    channel: str
    mode: str
    rules: tuple[str, ...]
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    digest_id: int | None = None  # the digest message it went out in (digest mode)
    deliveries: tuple[Delivery, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class MatchDetail:
    match: Match
    alerts: tuple[AlertView, ...]


@dataclass(frozen=True, slots=True)
class FeedActivity:
    """A feed's state plus how much it publishes, for the feeds page."""

    state: FeedState
    items_recent: int  # items stored in the window
    items_per_day: float
    delay: Delay | None = None  # publication to first sight, over the last `DELAY_DAYS`


@dataclass(frozen=True, slots=True)
class Delay:
    """How long after publication a source's items were first seen (live polls only)."""

    median_s: float
    p95_s: float
    items: int


@dataclass(frozen=True, slots=True)
class FeedChoice:
    id: int
    label: str


@dataclass(frozen=True, slots=True)
class RuleDays:
    """Matches per rule per UTC day, oldest day first; every rule has one count per day."""

    days: tuple[date, ...]
    counts: dict[str, tuple[int, ...]]

    @property
    def peak(self) -> int:
        return max((max(c) for c in self.counts.values()), default=0)


@dataclass(frozen=True, slots=True)
class MarkResult:
    story_id: int  # the labelled story's first item (what the dashboard shows)
    labelled: int  # items labelled now (0 when it already was)
    suppressed: int  # pending alerts suppressed
    sending: int = 0  # of those, claimed by a dispatcher now: that attempt finishes (sent if it succeeds)


@dataclass(frozen=True, slots=True)
class Backlog:
    """Outbox rows due for delivery now, and how long the oldest has waited."""

    due: int
    oldest_due_s: float | None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _relevant() -> ColumnElement[bool]:
    return or_(items_t.c.relevance.is_(None), items_t.c.relevance != NOT_RELEVANT)


class DashboardQueries:
    """Every read the web interface makes, and its one write."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._delays: tuple[datetime, dict[int, Delay]] | None = None  # (its `now`, delays): see `delays`

    # health ------------------------------------------------------------------

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(select(1)).scalar_one()

    # matches -----------------------------------------------------------------

    def _conditions(self, f: MatchFilter) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [
            items_t.c.matched.is_(True),
            items_t.c.duplicate_of.is_(None),
        ]
        if f.rule:
            conds.append(exists().where(hits_t.c.item_id == items_t.c.id, hits_t.c.rule == f.rule))
        if f.feed_id is not None:
            # The stories this feed carried, first or as a copy: its matched items (copies of a
            # matching story match too), read from ix_items_matched_feed alone.
            copy = items_t.alias("copy")
            conds.append(items_t.c.id.in_(
                select(func.coalesce(copy.c.duplicate_of, copy.c.id))
                .where(copy.c.feed_id == f.feed_id, copy.c.matched.is_(True))
            ))
        if f.since is not None:
            conds.append(items_t.c.ingested_at >= _start_of(f.since))
        if f.until is not None:
            conds.append(items_t.c.ingested_at < _start_of(f.until + timedelta(days=1)))
        if f.hide_not_relevant:
            conds.append(_relevant())
        return conds

    def matches(
        self, f: MatchFilter = MatchFilter(), *, page: int = 1, per_page: int = 50, count: bool = True
    ) -> MatchPage:
        """Matching stories, newest first (by when they were stored), and how many
        there are up to COUNT_CAP (`count=False`: not counted, total 0)."""
        page = max(page, 1)
        conds = self._conditions(f)
        with self.engine.connect() as conn:
            total = 0
            if count:
                capped = select(items_t.c.id).where(*conds).limit(COUNT_CAP + 1).subquery()
                total = int(conn.execute(select(func.count()).select_from(capped)).scalar_one())
            rows = conn.execute(
                item_select()
                .where(*conds)
                .order_by(items_t.c.ingested_at.desc(), items_t.c.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).all()
            matches = read_matches(conn, rows)
        return MatchPage(tuple(matches), min(total, COUNT_CAP), page, per_page, more=total > COUNT_CAP)

    def match_slice(self, f: MatchFilter = MatchFilter(), *, after: Position | None = None,
                    limit: int = 100) -> list[Match]:
        """Up to `limit` matching stories, newest first, strictly after `after`.

        Keyset pagination on (stored at, id): a story stored while a reader
        pages is newer than every position handed out, so it never shifts a
        page: nothing is repeated or skipped (unlike OFFSET). The export, the
        CLI listing and the API read every match this way."""
        conds = self._conditions(f)
        if after is not None:
            conds.append(or_(items_t.c.ingested_at < after.stored_at,
                             and_(items_t.c.ingested_at == after.stored_at, items_t.c.id < after.id)))
        with self.engine.connect() as conn:
            rows = conn.execute(
                item_select().where(*conds).order_by(items_t.c.ingested_at.desc(), items_t.c.id.desc()).limit(limit)
            ).all()
            return read_matches(conn, rows)

    def all_matches(self, f: MatchFilter = MatchFilter(), *, batch: int = 500) -> Iterator[Match]:
        """Every matching story, newest first, read `batch` at a time."""
        after = None
        while True:
            found = self.match_slice(f, after=after, limit=batch)
            yield from found
            if len(found) < batch:
                return
            after = Position.of(found[-1])

    def feed_id(self, name: str) -> int | None:
        """The feed a person names: its number, URL or title (case aside)."""
        if name.isdigit():
            return int(name)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(feeds_t.c.id)
                .where(or_(feeds_t.c.url == name, func.lower(feeds_t.c.title) == name.lower()))
                .order_by(feeds_t.c.id).limit(1)
            ).first()
        return None if row is None else int(row.id)

    def newest(self, *, rule: str | None = None, limit: int = 50) -> list[Match]:
        """The newest relevant matches, for the Atom feed."""
        query = MatchFilter(rule=rule, hide_not_relevant=True)
        return list(self.matches(query, per_page=limit, count=False).matches)

    def match(self, item_id: int) -> MatchDetail:
        """One match with its full text, hits, other sources and alerts.

        Asking for a copy (another source of the story) gives the story."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(items_t.c.id, items_t.c.duplicate_of).where(items_t.c.id == item_id)
            ).first()
            if found is None:
                raise MatchNotFound(item_id)
            root = found.duplicate_of or found.id
            match = read_match(conn, root)
            if match is None:  # retention removed it since
                raise MatchNotFound(item_id)
            alerts = self._alerts(conn, root)
        return MatchDetail(match, alerts)

    def _alerts(self, conn: Any, item_id: int) -> tuple[AlertView, ...]:
        rows = conn.execute(
            select(alerts_t).where(alerts_t.c.item_id == item_id).order_by(alerts_t.c.id)
        ).all()
        # A digest-mode alert goes out inside its digest message: its attempts
        # are the digest's.
        deliveries: dict[int, list[Delivery]] = defaultdict(list)
        wanted = {r.id for r in rows} | {r.digest_id for r in rows if r.digest_id is not None}
        if wanted:
            for a in conn.execute(
                select(attempts_t)
                .where(attempts_t.c.alert_id.in_(sorted(wanted)))
                .order_by(attempts_t.c.at, attempts_t.c.id)
            ):
                deliveries[a.alert_id].append(Delivery(a.at, a.ok, a.status, a.error))
        return tuple(
            AlertView(
                id=r.id, channel=r.channel, mode=r.mode, rules=tuple(r.rules or ()), state=r.state,
                attempts=r.attempts, created_at=r.created_at, next_attempt_at=r.next_attempt_at,
                sent_at=r.sent_at, last_error=r.last_error, digest_id=r.digest_id,
                deliveries=tuple(deliveries[r.id] + (deliveries[r.digest_id] if r.digest_id else [])),
            )
            for r in rows
        )

    def rules_seen(self) -> list[str]:
        """Rule ids that have hits, for the filter: one seek of ix_hits_rule per rule
        (a recursive skip scan), where DISTINCT would read every hit of the year."""
        first = select(func.min(hits_t.c.rule).label("rule")).cte("seen", recursive=True)
        following = select(func.min(hits_t.c.rule)).where(hits_t.c.rule > first.c.rule).scalar_subquery()
        seen = first.union_all(select(following).where(first.c.rule.is_not(None)))
        with self.engine.connect() as conn:
            return [r for (r,) in conn.execute(select(seen.c.rule).where(seen.c.rule.is_not(None)))]

    def sources_with_matches(self) -> list[FeedChoice]:
        """Feeds that carried at least one matching item, for the filter."""
        has_match = exists().where(items_t.c.feed_id == feeds_t.c.id, items_t.c.matched.is_(True))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(feeds_t.c.id, feeds_t.c.title, feeds_t.c.document_title, feeds_t.c.url)
                .where(has_match).order_by(feeds_t.c.id)
            ).all()
        return [FeedChoice(r.id, r.title or r.document_title or r.url) for r in rows]

    def per_rule_per_day(self, *, days: int = 30, today: date | None = None) -> RuleDays:
        """Matching stories per rule per UTC day over `days` days ending today.

        Stories an analyst marked not relevant are left out: the chart shows
        what the rules caught that mattered."""
        today = today or datetime.now(UTC).date()
        first = today - timedelta(days=days - 1)
        day_col = self._day(items_t.c.ingested_at)
        query = (
            select(hits_t.c.rule, day_col.label("day"), func.count(func.distinct(items_t.c.id)).label("n"))
            .select_from(hits_t.join(items_t, hits_t.c.item_id == items_t.c.id))
            .where(
                items_t.c.matched.is_(True),
                items_t.c.duplicate_of.is_(None),
                items_t.c.ingested_at >= _start_of(first),
                items_t.c.ingested_at < _start_of(today + timedelta(days=1)),
                _relevant(),
            )
            .group_by(hits_t.c.rule, day_col)
        )
        span = tuple(first + timedelta(days=i) for i in range(days))
        index = {d: i for i, d in enumerate(span)}
        counts: dict[str, list[int]] = {}
        with self.engine.connect() as conn:
            for rule, day, n in conn.execute(query):
                position = index.get(_as_date(day))
                if position is not None:
                    counts.setdefault(rule, [0] * days)[position] = int(n)
        return RuleDays(span, {rule: tuple(counts[rule]) for rule in sorted(counts)})

    def _day(self, column: Any) -> ColumnElement[Any]:
        if self.engine.dialect.name == "postgresql":
            return cast(func.timezone("UTC", column), Date)
        return func.date(column)  # SQLite stores UTC as ISO text

    # feeds -------------------------------------------------------------------

    def delays(self, *, now: datetime | None = None) -> dict[int, Delay]:
        """Per feed, the median and 95th percentile delay from publication to first
        sight over the last DELAY_DAYS (`items.delay_s`, set by live polls). The
        answer for a `now` within DELAY_CACHE_S of the last one computed is reused."""
        now = now or datetime.now(UTC)
        if self._delays and abs((now - self._delays[0]).total_seconds()) < DELAY_CACHE_S:
            return self._delays[1]
        since = now - timedelta(days=DELAY_DAYS)
        by_feed: dict[int, list[float]] = defaultdict(list)
        # A month of items crosses into Python here (80,000 rows at a million a year): fetched
        # in one go from ix_items_ingested_at_feed_id alone, which costs half of row by row.
        # Ranking them in SQL (window functions) measured slower on SQLite.
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items_t.c.feed_id, items_t.c.delay_s)
                .where(items_t.c.ingested_at >= since, items_t.c.delay_s.is_not(None))
            ).all()
        for feed_id, delay in rows:
            by_feed[feed_id].append(delay)
        delays = {feed_id: _delay(values) for feed_id, values in by_feed.items()}
        self._delays = (now, delays)
        return delays

    def feeds(
        self, *, days: int = 7, now: datetime | None = None, states: Sequence[FeedState] | None = None
    ) -> list[FeedActivity]:
        """Every polled feed (or those of `states`: one page of them) with its health and
        its items per day over `days` days.

        A feed younger than the window is averaged over its own age (at least a
        day), so a new feed does not look quiet."""
        now = now or datetime.now(UTC)
        since = now - timedelta(days=days)
        chosen = list(states) if states is not None else FeedStore(self.engine).all()
        # Materialized first: else SQLite groups by walking the (feed_id, guid) index over
        # the whole year rather than the window of ix_items_ingested_at_feed_id.
        in_window = items_t.c.ingested_at >= since
        if states is not None:  # `+ 0`: else SQLite walks these feeds' whole year by (feed_id, guid)
            in_window = and_(in_window, (items_t.c.feed_id + 0).in_([state.id for state in chosen]))
        window = select(items_t.c.feed_id).where(in_window).cte("window").prefix_with("MATERIALIZED")
        recent = select(window.c.feed_id, func.count().label("n")).group_by(window.c.feed_id)
        with self.engine.connect() as conn:
            counts = {r.feed_id: int(r.n) for r in conn.execute(recent)}
            created = {r.id: r.created_at for r in conn.execute(select(feeds_t.c.id, feeds_t.c.created_at))}
        delays = self.delays(now=now)
        result = []
        for state in chosen:
            start = max(since, created.get(state.id) or since)
            window_days = max((now - start).total_seconds() / 86400, 1.0)
            n = counts.get(state.id, 0)
            result.append(FeedActivity(state, n, n / window_days, delays.get(state.id)))
        return result

    # metrics -----------------------------------------------------------------

    def feeds_by_health(self) -> dict[str, int]:
        """Polled feeds per health state, the same rule as `FeedState.health`,
        computed in the database so every instance reports the same numbers."""
        health = case(
            (feeds_t.c.enabled.is_(False), FeedHealth.DISABLED.value),
            (feeds_t.c.consecutive_errors > 0, FeedHealth.BACKING_OFF.value),
            (feeds_t.c.stale.is_(True), FeedHealth.STALE.value),
            (feeds_t.c.last_success_at.is_not(None), FeedHealth.OK.value),
            else_=FeedHealth.NEW.value,
        )
        counts = dict.fromkeys(HEALTH_STATES, 0)
        with self.engine.connect() as conn:
            for state, n in conn.execute(
                select(health, func.count()).where(feeds_t.c.kind == "http").group_by(health)
            ):
                counts[state] = int(n)
        return counts

    def alerts_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(ALERT_STATES, 0)
        with self.engine.connect() as conn:
            for state, n in conn.execute(select(alerts_t.c.state, func.count()).group_by(alerts_t.c.state)):
                counts[state] = int(n)
        return counts

    def outbox_backlog(self, now: datetime | None = None) -> Backlog:
        now = now or datetime.now(UTC)
        # What the dispatcher would claim now, leases aside: digest members
        # waiting for their digest are pending too, but not due.
        due = and_(
            alerts_t.c.state == AlertState.PENDING,
            or_(alerts_t.c.kind == "digest", alerts_t.c.mode == AlertMode.IMMEDIATE),
            alerts_t.c.next_attempt_at <= now,
        )
        with self.engine.connect() as conn:
            row = conn.execute(select(func.count(), func.min(alerts_t.c.next_attempt_at)).where(due)).one()
        count, oldest = int(row[0]), _as_utc(row[1])
        return Backlog(count, (now - oldest).total_seconds() if oldest else None)

    # the one write -----------------------------------------------------------

    def mark_not_relevant(self, item_id: int, now: datetime | None = None) -> MarkResult:
        """Label a story not relevant: its items and hits stay, its alerts not yet
        sent are suppressed. Marking twice changes nothing more.

        An alert a dispatcher is sending right now (a live lease) cannot be called
        back: it is suppressed too, so it is never retried, and counted apart as
        `sending`; if that attempt succeeds the outbox records it as sent."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            found = conn.execute(
                select(items_t.c.id, items_t.c.duplicate_of).where(items_t.c.id == item_id)
            ).first()
            if found is None:
                raise MatchNotFound(item_id)
            root = found.duplicate_of or found.id
            labelled = conn.execute(
                update(StoredItem)
                .where(
                    or_(items_t.c.id == root, items_t.c.duplicate_of == root),
                    _relevant(),
                )
                .values(relevance=NOT_RELEVANT, labelled_at=now)
            ).rowcount
            taken = conn.execute(
                update(Alert)
                .where(alerts_t.c.item_id == root, alerts_t.c.state == AlertState.PENDING)
                .values(state=AlertState.SUPPRESSED)
                .returning(alerts_t.c.lease_until)
            ).all()
        sending = sum(1 for r in taken if r.lease_until is not None and _as_utc(r.lease_until) > now)
        return MarkResult(root, int(labelled), len(taken) - sending, sending)

    def unmark(self, item_id: int, now: datetime | None = None) -> UnmarkResult:
        """Undo `mark_not_relevant` (see `unmark`)."""
        return unmark(self.engine, item_id, now)

    def rule_activity(self, *, days: int = 30, today: date | None = None) -> tuple[tuple[date, ...],
                                                                                   dict[str, RuleActivity]]:
        return rule_activity(self.engine, days=days, today=today)


@dataclass(frozen=True, slots=True)
class UnmarkResult:
    story_id: int
    unlabelled: int  # items whose "not relevant" label was taken off
    requeued: int  # suppressed alerts queued again (their story still matches)


@dataclass(frozen=True, slots=True)
class RuleActivity:
    """What a rule did over a window: matching stories per day, and how many of
    them an analyst marked not relevant (its noise)."""

    rule: str
    per_day: tuple[int, ...]  # oldest day first, not-relevant ones included
    matches: int
    not_relevant: int

    @property
    def noise(self) -> float | None:
        """Marked not relevant / matches (None without matches)."""
        return self.not_relevant / self.matches if self.matches else None


def rule_activity(engine: Engine, *, days: int = 30, today: date | None = None) -> tuple[tuple[date, ...],
                                                                                       dict[str, RuleActivity]]:
    """Per rule over `days` days ending today: matching stories per day, their
    count and how many were marked not relevant (the rules page)."""
    queries = DashboardQueries(engine)
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    day_col = queries._day(items_t.c.ingested_at)
    flagged = case((items_t.c.relevance == NOT_RELEVANT, 1), else_=0)
    query = (
        select(hits_t.c.rule, day_col.label("day"), items_t.c.id, func.max(flagged).label("flagged"))
        .select_from(hits_t.join(items_t, hits_t.c.item_id == items_t.c.id))
        .where(items_t.c.matched.is_(True), items_t.c.duplicate_of.is_(None),
               items_t.c.ingested_at >= _start_of(first), items_t.c.ingested_at < _start_of(today + timedelta(days=1)))
        .group_by(hits_t.c.rule, day_col, items_t.c.id)
    ).subquery()
    totals = select(query.c.rule, query.c.day, func.count().label("n"), func.sum(query.c.flagged).label("marked")
                    ).group_by(query.c.rule, query.c.day)
    span = tuple(first + timedelta(days=i) for i in range(days))
    index = {d: i for i, d in enumerate(span)}
    counts: dict[str, list[int]] = {}
    marked: dict[str, int] = defaultdict(int)
    with engine.connect() as conn:
        for rule, day, n, flagged_n in conn.execute(totals):
            position = index.get(_as_date(day))
            if position is not None:
                counts.setdefault(rule, [0] * days)[position] = int(n)
                marked[rule] += int(flagged_n or 0)
    return span, {rule: RuleActivity(rule, tuple(c), sum(c), marked[rule]) for rule, c in counts.items()}


def unmark(engine: Engine, item_id: int, now: datetime | None = None) -> UnmarkResult:
    """Undo "not relevant": the story's label is taken off and the alerts the mark
    suppressed are queued again, if the story still matches (a reclassification
    may have ended it since); an alert of the digest mode waits for its digest."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        found = conn.execute(select(items_t.c.id, items_t.c.duplicate_of).where(items_t.c.id == item_id)).first()
        if found is None:
            raise MatchNotFound(item_id)
        root = found.duplicate_of or found.id
        unlabelled = conn.execute(
            update(StoredItem)
            .where(or_(items_t.c.id == root, items_t.c.duplicate_of == root), items_t.c.relevance == NOT_RELEVANT)
            .values(relevance=None, labelled_at=None)
        ).rowcount
        still = conn.execute(select(items_t.c.matched).where(items_t.c.id == root)).scalar()
        requeued = 0
        if unlabelled and still:
            requeued = conn.execute(
                update(Alert)
                .where(alerts_t.c.item_id == root, alerts_t.c.state == AlertState.SUPPRESSED)
                .values(state=AlertState.PENDING, lease_owner=None, lease_until=None,
                        next_attempt_at=case((alerts_t.c.mode == AlertMode.DIGEST.value, None), else_=now))
            ).rowcount
    return UnmarkResult(root, int(unlabelled), int(requeued))


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_utc(value: object) -> datetime | None:
    """Aggregates bypass the column type, so SQLite hands back text."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _delay(values: list[float]) -> Delay:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    return Delay(statistics.median(ordered), p95, len(ordered))
