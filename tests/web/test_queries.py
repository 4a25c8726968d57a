"""The dashboard's read-side queries and its one write, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.models import Alert, Feed, StoredItem
from monitor.store.queries import (
    HEALTH_STATES,
    DashboardQueries,
    MatchFilter,
    MatchNotFound,
)
from tests.web.conftest import BROKEN_FEED, EVIL_FEED_TITLE, WIRE_FEED, DashboardDb


@pytest.fixture
def q(dashboard_db: DashboardDb) -> DashboardQueries:
    return DashboardQueries(dashboard_db.engine)


EVERYTHING = MatchFilter()


def ids(q: DashboardQueries, f: MatchFilter = EVERYTHING, **kw: int) -> list[int]:
    return [m.id for m in q.matches(f, **kw).matches]


def test_matches_are_stories_newest_first_with_hits_and_extra_sources(
    q: DashboardQueries, dashboard_db: DashboardDb
) -> None:
    db = dashboard_db
    page = q.matches()
    assert [m.id for m in page.matches] == [db.evil, db.seed_004, db.seed_000]  # the wire copy is no story
    assert page.total == 3 and page.pages == 1 and not page.has_next

    seed_000 = page.matches[2]
    assert seed_000.rules == ("ohchr",)
    assert [(s.feed_url, s.origin) for s in seed_000.extra_sources] == [(WIRE_FEED, "Wire")]
    assert seed_000.source.feed_url == "replay:files"
    for h in seed_000.hits:
        field_text = seed_000.title if h.field == "title" else seed_000.text
        assert field_text is not None and field_text[h.start : h.end] == h.matched
    assert page.matches[1].rules == ("ilo", "ohchr", "upr")
    assert page.matches[0].source.label == EVIL_FEED_TITLE


def test_filters_by_rule_source_and_date(q: DashboardQueries, dashboard_db: DashboardDb) -> None:
    db = dashboard_db
    assert ids(q, MatchFilter(rule="upr")) == [db.seed_004]
    assert ids(q, MatchFilter(rule="ilo")) == [db.seed_004]
    assert ids(q, MatchFilter(rule="nosuchrule")) == []
    assert ids(q, MatchFilter(feed_id=db.evil_feed)) == [db.evil]
    wire = next(s for s in q.sources_with_matches() if s.label == "Wire service")
    assert ids(q, MatchFilter(feed_id=wire.id)) == [db.seed_000]  # a story any of whose sources is that feed

    today = datetime.now(UTC).date()
    assert len(ids(q, MatchFilter(since=today, until=today))) == 3
    assert ids(q, MatchFilter(until=today - timedelta(days=1))) == []
    assert ids(q, MatchFilter(since=today + timedelta(days=1))) == []
    with db.engine.begin() as conn:  # seed 000 was stored three days ago
        conn.execute(update(StoredItem).where(StoredItem.id == db.seed_000)
                     .values(ingested_at=datetime.now(UTC) - timedelta(days=3)))
    assert ids(q, MatchFilter(since=today - timedelta(days=1))) == [db.evil, db.seed_004]
    assert ids(q, MatchFilter(until=today - timedelta(days=2))) == [db.seed_000]


def test_pages_split_the_list(q: DashboardQueries, dashboard_db: DashboardDb) -> None:
    db = dashboard_db
    first, second = q.matches(per_page=2), q.matches(page=2, per_page=2)
    assert [m.id for m in first.matches] == [db.evil, db.seed_004] and first.has_next and first.pages == 2
    assert [m.id for m in second.matches] == [db.seed_000] and not second.has_next
    assert q.matches(page=9, per_page=2).matches == ()


def test_one_match_with_alerts_and_attempts_asked_by_any_of_its_items(
    q: DashboardQueries, dashboard_db: DashboardDb
) -> None:
    db = dashboard_db
    detail = q.match(db.evil)
    assert detail.match.title.startswith("<script>")
    alerts = {a.channel: a for a in detail.alerts}
    assert alerts["analysts"].state == "pending" and alerts["analysts"].deliveries == ()
    hook = alerts["ops-hook"]
    assert (hook.state, hook.attempts) == ("sent", 2)
    assert [(d.ok, d.status) for d in hook.deliveries] == [(False, "500"), (True, "200")]

    assert q.match(db.wire_copy).match.id == db.seed_000  # a copy opens its story
    with pytest.raises(MatchNotFound):
        q.match(987654)


def test_mark_not_relevant_keeps_the_story_labels_it_and_suppresses_pending_alerts(
    q: DashboardQueries, dashboard_db: DashboardDb
) -> None:
    db = dashboard_db
    result = q.mark_not_relevant(db.evil)
    assert (result.story_id, result.labelled, result.suppressed) == (db.evil, 1, 1)
    states = {a.channel: a.state for a in q.match(db.evil).alerts}
    assert states == {"analysts": "suppressed", "ops-hook": "sent"}  # what was sent stays sent
    detail = q.match(db.evil).match
    assert detail.not_relevant and detail.labelled_at is not None and detail.hits

    again = q.mark_not_relevant(db.evil)
    assert (again.labelled, again.suppressed) == (0, 0)
    assert ids(q) == [db.evil, db.seed_004, db.seed_000]  # kept, and listed
    assert ids(q, MatchFilter(hide_not_relevant=True)) == [db.seed_004, db.seed_000]
    assert [m.id for m in q.newest()] == [db.seed_004, db.seed_000]

    via_copy = q.mark_not_relevant(db.wire_copy)  # marking any source marks the whole story
    assert (via_copy.story_id, via_copy.labelled) == (db.seed_000, 2)
    with pytest.raises(MatchNotFound):
        q.mark_not_relevant(987654)


def test_per_rule_per_day_counts_stories_over_thirty_days(q: DashboardQueries, dashboard_db: DashboardDb) -> None:
    db = dashboard_db
    today = datetime.now(UTC).date()
    data = q.per_rule_per_day()
    assert len(data.days) == 30 and data.days[-1] == today
    assert {rule: counts[-1] for rule, counts in data.counts.items()} == {"ilo": 1, "ohchr": 3, "upr": 1}
    assert all(sum(counts[:-1]) == 0 for counts in data.counts.values())

    with db.engine.begin() as conn:
        conn.execute(update(StoredItem).where(StoredItem.id == db.seed_004)
                     .values(ingested_at=datetime.now(UTC) - timedelta(days=2)))
        conn.execute(update(StoredItem).where(StoredItem.id == db.seed_000)
                     .values(ingested_at=datetime.now(UTC) - timedelta(days=40)))
    q.mark_not_relevant(db.evil)
    data = q.per_rule_per_day()
    assert data.counts["upr"][-3] == 1 and data.counts["ohchr"][-3] == 1
    assert sum(data.counts["ohchr"]) == 1  # 40 days ago is out, not relevant is left out
    assert data.peak == 1


def test_feeds_have_health_and_items_per_day(q: DashboardQueries, dashboard_db: DashboardDb) -> None:
    feeds = {f.state.url: f for f in q.feeds()}
    assert "replay:files" not in feeds  # replayed files are no polled feed
    assert feeds[BROKEN_FEED].state.health == "backing-off"
    assert feeds[BROKEN_FEED].state.consecutive_errors == 3
    assert feeds[WIRE_FEED].state.health == "ok"
    assert feeds[WIRE_FEED].items_recent == 1
    assert feeds[WIRE_FEED].items_per_day == pytest.approx(1.0)  # a new feed: over one day, not seven
    assert feeds[BROKEN_FEED].items_per_day == 0


def test_feeds_by_health_agrees_with_feed_state(q: DashboardQueries, dashboard_db: DashboardDb) -> None:
    store = FeedStore(dashboard_db.engine)
    now = datetime.now(UTC)
    store.sync([ListedFeed(f"https://n{i}.example/rss", None, "t") for i in range(3)]
               + [ListedFeed(u, None, "t") for u in (WIRE_FEED, BROKEN_FEED)], now)  # evil removed: disabled
    with dashboard_db.engine.begin() as conn:
        conn.execute(update(Feed).where(Feed.url == WIRE_FEED).values(stale=True))
    expected = {h: 0 for h in HEALTH_STATES}
    for f in store.all():
        expected[f.health] += 1
    assert q.feeds_by_health() == expected
    assert expected == {"ok": 0, "backing-off": 1, "stale": 1, "disabled": 1, "new": 3}


def test_outbox_backlog_counts_due_pending_alerts(q: DashboardQueries, dashboard_db: DashboardDb) -> None:
    now = datetime.now(UTC)
    with dashboard_db.engine.connect() as conn:
        (due_at,) = conn.execute(select(Alert.next_attempt_at).where(Alert.state == "pending")).scalars()
    backlog = q.outbox_backlog(now + timedelta(seconds=30))
    assert backlog.due == 1
    assert backlog.oldest_due_s == pytest.approx((now + timedelta(seconds=30) - due_at).total_seconds(), abs=0.001)
    with dashboard_db.engine.begin() as conn:
        conn.execute(update(Alert).where(Alert.state == "pending").values(next_attempt_at=now + timedelta(hours=1)))
    assert q.outbox_backlog(now).due == 0 and q.outbox_backlog(now).oldest_due_s is None
    assert q.alerts_by_state() == {"pending": 1, "digested": 0, "sent": 1, "dead": 0, "suppressed": 0}


def test_rules_and_sources_for_the_filters(q: DashboardQueries, dashboard_db: DashboardDb) -> None:
    assert q.rules_seen() == ["ilo", "ohchr", "upr"]
    labels = [s.label for s in q.sources_with_matches()]
    assert labels == ["replay:files", "Wire service", EVIL_FEED_TITLE]
    with dashboard_db.engine.connect() as conn:
        assert conn.execute(select(Feed.id).where(Feed.url == BROKEN_FEED)).scalar_one()
    q.ping()
