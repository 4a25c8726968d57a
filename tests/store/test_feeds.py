"""Feed state: syncing the operator's list, claiming due feeds with leases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.feeds import REMOVED, FeedStore, ListedFeed, Success

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
def feeds(db_url: str) -> Iterator[FeedStore]:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    yield FeedStore(engine)
    engine.dispose()


def listed(*urls: str) -> list[ListedFeed]:
    return [ListedFeed(u, None, "monitor.toml") for u in urls]


def test_sync_adds_disables_and_restores_keeping_history(feeds: FeedStore) -> None:
    assert feeds.sync(listed("https://a/rss", "https://b/rss"), NOW).added == 2
    report = feeds.sync(listed("https://a/rss"), NOW)
    assert (report.added, report.removed) == (0, 1)
    b = next(f for f in feeds.all() if f.url == "https://b/rss")
    assert not b.enabled and b.disabled_reason == REMOVED and b.health == "disabled"

    assert feeds.sync(listed("https://a/rss", "https://b/rss"), NOW).restored == 1
    assert all(f.enabled for f in feeds.all())
    assert len(feeds.all()) == 2


def test_new_feeds_are_due_at_once_and_claimed_once(feeds: FeedStore) -> None:
    feeds.sync(listed("https://a/rss", "https://b/rss"), NOW)
    first = feeds.claim_due("p1", LEASE, 10, now=NOW)
    second = feeds.claim_due("p2", LEASE, 10, now=NOW + timedelta(seconds=1))
    assert [f.url for f in first] == ["https://a/rss", "https://b/rss"]
    assert second == []


def test_an_expired_lease_lets_another_process_take_over(feeds: FeedStore) -> None:
    feeds.sync(listed("https://a/rss"), NOW)
    (feed,) = feeds.claim_due("dead", LEASE, 10, now=NOW)
    (taken,) = feeds.claim_due("alive", LEASE, 10, now=NOW + LEASE + timedelta(seconds=1))
    assert taken.id == feed.id
    # the dead owner's late result must not overwrite the new holder's state
    assert not feeds.record_failure(feed.id, "dead", now=NOW, error="late", next_poll_at=NOW)


def test_recorded_results_set_the_next_due_time(feeds: FeedStore) -> None:
    feeds.sync(listed("https://a/rss", "https://b/rss"), NOW)
    a, b = feeds.claim_due("p", LEASE, 10, now=NOW)
    assert feeds.record_success(a.id, "p", now=NOW, next_poll_at=NOW + timedelta(hours=1), interval_s=3600,
                                etag='"x"', last_modified=None, document_title="A")
    assert feeds.record_failure(b.id, "p", now=NOW, error="HTTP 410 Gone", next_poll_at=NOW, gone=True)

    assert feeds.claim_due("p", LEASE, 10, now=NOW + timedelta(minutes=30)) == []
    (again,) = feeds.claim_due("p", LEASE, 10, now=NOW + timedelta(hours=2))
    assert (again.url, again.etag, again.document_title) == ("https://a/rss", '"x"', "A")
    gone = next(f for f in feeds.all() if f.url == "https://b/rss")
    assert not gone.enabled and "410" in (gone.disabled_reason or "")


def test_release_gives_back_every_lease(feeds: FeedStore) -> None:
    feeds.sync(listed("https://a/rss"), NOW)
    feeds.claim_due("p", LEASE, 10, now=NOW)
    assert feeds.release("p") == 1
    assert len(feeds.claim_due("q", LEASE, 10, now=NOW)) == 1


def test_racing_claimers_never_share_a_feed(feeds: FeedStore, db_url: str) -> None:
    feeds.sync(listed(*(f"https://f{n}/rss" for n in range(60))), NOW)
    stores = [FeedStore(make_engine(db_url)) for _ in range(4)]
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(len(stores))

    def claim(i: int) -> None:
        barrier.wait()
        got: list[int] = []
        while batch := stores[i].claim_due(f"p{i}", LEASE, 7, now=NOW):
            got.extend(f.id for f in batch)
        claimed[f"p{i}"] = got

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [fid for ids in claimed.values() for fid in ids]
    assert sorted(every) == sorted({f.id for f in feeds.all()})  # each exactly once
    for s in stores:
        s.engine.dispose()


def test_next_due_is_the_earliest_time_a_feed_can_be_claimed(feeds: FeedStore) -> None:
    assert feeds.next_due() is None  # no feeds at all
    feeds.sync(listed("https://a/rss", "https://b/rss", "https://c/rss"), NOW)
    assert feeds.next_due() == NOW
    a, b, c = feeds.claim_due("p", LEASE, 10, now=NOW)
    assert feeds.next_due() == NOW + LEASE  # all leased: due when the leases end
    feeds.record_success(a.id, "p", now=NOW, next_poll_at=NOW + timedelta(minutes=10), interval_s=600,
                         etag=None, last_modified=None)
    feeds.record_success(b.id, "p", now=NOW, next_poll_at=NOW + timedelta(minutes=2), interval_s=120,
                         etag=None, last_modified=None)
    assert feeds.next_due() == NOW + timedelta(minutes=2)  # c's lease (until +5) is later
    feeds.sync(listed("https://a/rss", "https://c/rss"), NOW)  # b removed: disabled feeds do not count
    assert feeds.next_due() == NOW + LEASE


def test_record_many_writes_a_batch_and_skips_feeds_whose_lease_was_lost(feeds: FeedStore) -> None:
    feeds.sync(listed("https://a/rss", "https://b/rss"), NOW)
    a, b = feeds.claim_due("p", LEASE, 10, now=NOW)
    assert feeds.record_many("p", [Success(a.id, NOW, NOW + timedelta(hours=1), 3600, '"a1"', None, document_title="A",
                                           publish_gap_s=60.0, newest_entry_at=NOW)]) == 1
    later = NOW + timedelta(hours=2)
    (b,) = feeds.claim_due("q", LEASE, 10, now=later, ids=[b.id])  # p's lease on b expired: q took it
    (a,) = feeds.claim_due("p", LEASE, 10, now=later, ids=[a.id])
    held = feeds.record_many("p", [
        Success(a.id, later, later + timedelta(hours=1), 3600, '"a2"', "Mon, 23 Nov 2026 12:00:00 GMT"),
        Success(b.id, later, later + timedelta(hours=1), 3600, '"b"', None, document_title="B", problem="malformed"),
    ])
    assert held == 1
    states = {f.url: f for f in feeds.all()}
    a, b = states["https://a/rss"], states["https://b/rss"]
    # a poll that learnt no title, gap or newest entry keeps the stored ones
    assert (a.etag, a.document_title, a.publish_gap_s, a.newest_entry_at) == ('"a2"', "A", 60.0, NOW)
    assert (a.last_success_at, a.lease_owner, a.last_error) == (later, None, None)
    assert (b.lease_owner, b.etag, b.document_title, b.last_error) == ("q", None, None, None)  # left to its new holder
    assert feeds.record_many("p", []) == 0


def test_claims_can_be_limited_to_planned_feeds(feeds: FeedStore) -> None:
    feeds.sync(listed("https://a/rss", "https://b/rss", "https://c/rss"), NOW)
    due = feeds.due(now=NOW)
    assert [url for _, url in due] == ["https://a/rss", "https://b/rss", "https://c/rss"]
    ids = {url: feed_id for feed_id, url in due}
    (c,) = feeds.claim_due("p", LEASE, 10, now=NOW, ids=[ids["https://c/rss"]])
    assert c.url == "https://c/rss"
    assert feeds.claim_due("q", LEASE, 10, now=NOW, ids=[ids["https://c/rss"]]) == []  # already leased
    assert [url for _, url in feeds.due(now=NOW)] == ["https://a/rss", "https://b/rss"]


def test_instances_starting_together_add_each_new_feed_once(feeds: FeedStore, db_url: str) -> None:
    urls = [f"https://f{n}/rss" for n in range(40)]
    stores = [FeedStore(make_engine(db_url)) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    added: list[int] = []
    errors: list[Exception] = []

    def sync(store: FeedStore) -> None:
        barrier.wait()
        try:
            added.append(store.sync(listed(*urls), NOW).added)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.engine.dispose()
    assert errors == [] and sum(added) == len(urls)
    assert sorted(f.url for f in feeds.all()) == sorted(urls)


def test_the_operators_title_stays_and_the_feeds_own_is_kept_beside_it(feeds: FeedStore) -> None:
    """A poll learns the feed's own title; it never replaces the one the operator gave."""
    feeds.sync([ListedFeed("https://a/rss", "MFA Belarus (English)", "monitor.toml"),
                ListedFeed("https://b/rss", None, "monitor.toml")], NOW)
    a, b = feeds.claim_due("p", LEASE, 10, now=NOW)
    for feed in (a, b):
        assert feeds.record_success(feed.id, "p", now=NOW, next_poll_at=NOW + timedelta(hours=1), interval_s=3600,
                                    etag=None, last_modified=None, document_title="Новости МИД")
    feeds.sync([ListedFeed("https://a/rss", "MFA Belarus (English)", "monitor.toml"),
                ListedFeed("https://b/rss", None, "monitor.toml")], NOW)
    states = {f.url: f for f in feeds.all()}
    a, b = states["https://a/rss"], states["https://b/rss"]
    assert (a.title, a.document_title, a.name, a.beside) == (
        "MFA Belarus (English)", "Новости МИД", "MFA Belarus (English)", "Новости МИД")
    assert (b.title, b.name, b.beside) == (None, "Новости МИД", None)  # no title of the operator's: the feed's own
    feeds.sync([ListedFeed("https://a/rss", None, "monitor.toml")], NOW)  # the operator takes the title away
    assert next(f for f in feeds.all() if f.url == "https://a/rss").name == "Новости МИД"
