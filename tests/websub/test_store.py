"""Subscriptions in the database: idempotent discovery, claims, verification,
failure and denial, and what each does to the feed's push_until and next poll."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from monitor.states import SubscriptionState
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedState, FeedStore, ListedFeed
from monitor.store.websub import SubscriptionStore

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CLAIM = timedelta(minutes=2)
HUB = "https://hub.example/"
TOPIC = "https://a.example/rss"


@dataclass
class Db:
    feeds: FeedStore
    subs: SubscriptionStore
    feed_id: int

    def feed(self) -> FeedState:
        return next(f for f in self.feeds.all() if f.id == self.feed_id)

    def state(self) -> SubscriptionState:
        return self.subs.views()[self.feed_id].state


@pytest.fixture
def db(db_url: str) -> Iterator[Db]:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    feeds = FeedStore(engine)
    feeds.sync([ListedFeed(TOPIC, None, "test"), ListedFeed("https://b.example/rss", None, "test")], NOW)
    feed_id = next(f.id for f in feeds.all() if f.url == TOPIC)
    yield Db(feeds, SubscriptionStore(engine), feed_id)
    engine.dispose()


def discover(db: Db, hub: str = HUB, topic: str = TOPIC, token: str = "t" * 43, secret: str = "s1") -> bool:
    return db.subs.discovered(db.feed_id, hub, topic, token=token, secret=secret, now=NOW)


def verify(db: Db, token: str = "t" * 43, topic: str = TOPIC, lease_s: int = 1000, at: datetime = NOW) -> int | None:
    return db.subs.verified(token, topic, lease_s=lease_s, now=at, renew_at=at + timedelta(seconds=850))


def request(db: Db, owner: str = "me", at: datetime = NOW) -> None:
    (due,) = db.subs.claim_due(owner, CLAIM, 10, now=at)
    assert db.subs.requesting(due.id, owner, now=at)


def test_discovery_makes_one_subscription_however_often_it_is_seen(db: Db) -> None:
    assert discover(db)
    assert not discover(db, token="u" * 43, secret="s2")  # the same hub and topic: nothing changes
    assert db.subs.known() == {db.feed_id: (HUB, TOPIC)}
    (due,) = db.subs.claim_due("me", CLAIM, 10, now=NOW)
    assert (due.token, due.secret, due.state) == ("t" * 43, "s1", SubscriptionState.PENDING)


def test_a_claimed_subscription_is_nobody_elses(db: Db) -> None:
    discover(db)
    assert len(db.subs.claim_due("one", CLAIM, 10, now=NOW)) == 1
    assert db.subs.claim_due("two", CLAIM, 10, now=NOW + timedelta(seconds=1)) == []
    assert len(db.subs.claim_due("two", CLAIM, 10, now=NOW + CLAIM + timedelta(seconds=1))) == 1  # lease over


def test_only_a_requested_subscription_is_verified_and_then_the_feed_is_pushed(db: Db) -> None:
    discover(db)
    assert verify(db) is None  # not asked yet: the hub's GET gets a 404
    request(db)
    assert verify(db, token="x" * 43) is None
    assert verify(db, topic="https://a.example/other") is None
    assert verify(db) == db.feed_id
    assert db.state() == SubscriptionState.VERIFIED
    assert db.feed().push_until == NOW + timedelta(seconds=1000)
    assert db.feed().pushed(NOW + timedelta(seconds=999)) and not db.feed().pushed(NOW + timedelta(seconds=1000))
    # due again at 85 % of the lease, for renewal
    assert db.subs.claim_due("me", CLAIM, 10, now=NOW + timedelta(seconds=849)) == []
    assert len(db.subs.claim_due("me", CLAIM, 10, now=NOW + timedelta(seconds=850))) == 1


def test_a_verification_before_the_hubs_answer_is_not_overwritten(db: Db) -> None:
    discover(db)
    (due,) = db.subs.claim_due("me", CLAIM, 10, now=NOW)
    db.subs.requesting(due.id, "me", now=NOW)
    verify(db)  # the hub verified while our POST was in flight
    db.subs.accepted(due.id, "me", verify_by=NOW + timedelta(seconds=600))
    assert not db.subs.failed(due.id, "me", error="late error", now=NOW, retry_at=NOW)
    assert db.state() == SubscriptionState.VERIFIED
    assert db.subs.claim_due("me", CLAIM, 10, now=NOW + timedelta(seconds=700)) == []  # renew at 850 s


def test_a_failed_renewal_lets_the_push_lapse_and_brings_the_next_poll_to_its_end(db: Db) -> None:
    discover(db)
    request(db)
    verify(db)
    (feed,) = db.feeds.claim_due("poller", CLAIM, 10, now=NOW, ids=[db.feed_id])
    db.feeds.record_success(feed.id, "poller", now=NOW, next_poll_at=NOW + timedelta(hours=1), interval_s=3600,
                            etag=None, last_modified=None)
    renewal = NOW + timedelta(seconds=850)
    (due,) = db.subs.claim_due("me", CLAIM, 10, now=renewal)
    assert due.state == SubscriptionState.VERIFIED
    db.subs.requesting(due.id, "me", now=renewal)
    assert db.subs.failed(due.id, "me", error="cannot connect: refused", now=renewal,
                          retry_at=renewal + timedelta(minutes=1))
    view = db.subs.views()[db.feed_id]
    assert (view.state, view.last_error) == (SubscriptionState.FAILED, "cannot connect: refused")
    feed = db.feed()
    assert feed.push_until == NOW + timedelta(seconds=1000)  # not extended: it lapses
    assert feed.next_poll_at == NOW + timedelta(seconds=1000)  # polled when the push ends, not in an hour
    assert db.subs.claim_due("me", CLAIM, 10, now=renewal + timedelta(seconds=59)) == []
    assert len(db.subs.claim_due("me", CLAIM, 10, now=renewal + timedelta(seconds=61))) == 1


def test_a_denial_stops_the_push_and_polls_at_once(db: Db) -> None:
    discover(db)
    request(db)
    verify(db)
    assert db.subs.denied("t" * 43, "https://elsewhere/", reason="r", now=NOW, retry_at=NOW) is None
    assert db.subs.denied("t" * 43, TOPIC, reason="topic not allowed", now=NOW,
                          retry_at=NOW + timedelta(hours=1)) == db.feed_id
    view = db.subs.views()[db.feed_id]
    assert (view.state, view.last_error, view.expires_at) == (SubscriptionState.DENIED, "topic not allowed", None)
    assert db.feed().push_until is None and db.feed().next_poll_at <= NOW


def test_another_hub_means_a_fresh_subscription_and_no_push_meanwhile(db: Db) -> None:
    discover(db)
    request(db)
    verify(db)
    assert discover(db, hub="https://other-hub.example/", token="n" * 43, secret="s2")
    (due,) = db.subs.claim_due("me", CLAIM, 10, now=NOW)
    assert (due.hub, due.token, due.secret, due.state) == (
        "https://other-hub.example/", "n" * 43, "s2", SubscriptionState.PENDING)
    assert db.subs.callback("t" * 43) is None  # the old token is unknown: its pushes are refused
    assert db.feed().push_until is None


def test_a_feed_that_names_no_hub_any_more_loses_its_subscription(db: Db) -> None:
    discover(db)
    request(db)
    verify(db)
    assert db.subs.forget(db.feed_id)
    assert db.subs.views() == {} and db.feed().push_until is None


def test_pushes_are_counted_and_a_removed_feed_is_not_renewed(db: Db) -> None:
    discover(db)
    sub = db.subs.callback("t" * 43)
    assert sub is not None and (sub.feed_url, sub.topic, sub.secret, sub.feed_enabled) == (TOPIC, TOPIC, "s1", True)
    db.subs.record_push(sub.id, accepted=True, now=NOW)
    db.subs.record_push(sub.id, accepted=False, now=NOW)
    db.subs.record_push(sub.id, accepted=False, now=NOW)
    view = db.subs.views()[db.feed_id]
    assert (view.pushes, view.refused, view.last_push_at) == (1, 2, NOW)

    db.feeds.sync([ListedFeed("https://b.example/rss", None, "test")], NOW)  # the feed is removed
    assert db.subs.claim_due("me", CLAIM, 10, now=NOW) == []
    assert db.subs.callback("t" * 43).feed_enabled is False  # type: ignore[union-attr]
