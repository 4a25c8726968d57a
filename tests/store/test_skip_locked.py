"""Claims on PostgreSQL skip rows another instance has locked, at once.

Several daemons share one PostgreSQL; while one claims (its transaction holds
row locks on what it picked), another must take the other due rows instead of
queueing behind it. The tests hold a row lock in one connection and claim in
another whose `lock_timeout` is set: a claim that waited for the lock (a plain
`FOR UPDATE`) would fail with LockNotAvailable instead of returning, so "at
once" is asserted without timing anything. The same tests pass with a
`FOR UPDATE SKIP LOCKED` claim only. (SQLite has no row locks: BEGIN IMMEDIATE
serialises its writers, which tests/alerts/test_outbox.py covers.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from monitor.alerts.settings import Route
from monitor.store import migrations
from monitor.store.alerts import Outbox
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.models import Alert, Feed
from tests.alerts.test_outbox import store_matches

pytestmark = pytest.mark.postgres

LEASE = timedelta(minutes=5)
LOCK_TIMEOUT = "5s"  # only reached by a claim that waits: then the test fails


@pytest.fixture
def engines(pg_url: str) -> Iterator[tuple[Engine, Engine]]:
    """(holder, claimer): two engines on the test's schema; the claimer's
    connections give up on a lock after LOCK_TIMEOUT instead of waiting."""
    url = make_url(pg_url)
    options = f"{url.query.get('options', '')} -clock_timeout={LOCK_TIMEOUT}".strip()
    holder = make_engine(pg_url)
    claimer = make_engine(url.update_query_dict({"options": options}).render_as_string(hide_password=False))
    migrations.upgrade(holder)
    yield holder, claimer
    holder.dispose()
    claimer.dispose()


def test_a_feed_claim_skips_a_locked_feed_and_takes_the_others_at_once(engines: tuple[Engine, Engine]) -> None:
    holder, claimer = engines
    now = datetime.now(UTC)
    FeedStore(holder).sync([ListedFeed(f"https://m{n}.example/rss", None, "test") for n in range(3)], now)
    with claimer.connect() as conn:
        assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == LOCK_TIMEOUT
    with holder.begin() as held:  # another instance, in the middle of its claim
        locked = held.execute(select(Feed.id).order_by(Feed.id).limit(1).with_for_update()).scalar_one()
        claimed = FeedStore(claimer).claim_due("b", LEASE, 10, now=now)
        assert sorted(f.id for f in claimed) == sorted(
            i for i in held.execute(select(Feed.id)).scalars() if i != locked)
    (later,) = FeedStore(claimer).claim_due("b", LEASE, 10, now=now)  # the lock is gone: its turn
    assert later.id == locked


def test_an_alert_claim_skips_a_locked_alert_and_takes_the_others_at_once(engines: tuple[Engine, Engine]) -> None:
    holder, claimer = engines
    ids = store_matches(Outbox(holder), 3, [Route(rules=["ohchr"], channel="ops")])
    assert len(ids) == 3
    with holder.begin() as held:
        locked = held.execute(select(Alert.id).order_by(Alert.id).limit(1).with_for_update()).scalar_one()
        claimed = Outbox(claimer).claim_due("b", LEASE, 10, channels=["ops"])
        assert sorted(c.id for c in claimed) == sorted(i for i in ids if i != locked)
    (later,) = Outbox(claimer).claim_due("b", LEASE, 10, channels=["ops"])
    assert later.id == locked


def test_an_instance_starting_does_not_lock_the_feeds_another_is_polling(engines: tuple[Engine, Engine]) -> None:
    """Every start syncs the feed list. Rewriting rows that did not change would take
    their locks, in list order, while another instance commits polls of them in
    another order: PostgreSQL then kills one of the two as a deadlock (seen in
    test_scale). An unchanged list must change, and lock, nothing."""
    holder, claimer = engines
    listed = [ListedFeed(f"https://m{n}.example/rss", f"Ministry {n}", "monitor.toml") for n in range(3)]
    FeedStore(holder).sync(listed)
    with holder.begin() as held:  # another instance, committing polls of every feed
        held.execute(select(Feed.id).with_for_update()).all()
        report = FeedStore(claimer).sync(listed)  # would wait, and fail on lock_timeout
    assert (report.added, report.removed, report.restored, report.total) == (0, 0, 0, 3)
