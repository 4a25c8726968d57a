"""The store: one transaction per batch, duplicates impossible, outbox beside hits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.dedupe import HEADLINE_WINDOW, canonical_url, fingerprint
from monitor.items import AlertRequest, Hit, Item, Outcome, Prepared
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.models import Alert, Base, Feed, ItemText, StoredHit, StoredItem
from monitor.store.repository import Store
from tests.conftest import SEEDS

RELEASE = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")[:1800]
OTHER = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")


@pytest.fixture
def store(db_url: str) -> Store:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    yield Store(engine)
    engine.dispose()


def entry(guid: str, text: str = RELEASE, url: str | None = None, source: str = "https://a.example/feed",
          hits: bool = True) -> Prepared:
    item = Item(source=source, guid=guid, title="Sekreta meets Türk", text=text, url=url)
    found = [Hit("ohchr", "OHCHR", "text", 0, 5, text[:5])] if hits else []
    return Prepared(item, found, fingerprint(item), canonical_url(url),
                      [AlertRequest("email", ("ohchr",))] if hits else [])


def test_a_new_item_is_stored_with_its_hits_and_alert(store: Store) -> None:
    (outcome,) = store.ingest("https://a.example/feed", [entry("1")])
    assert outcome.status == "new" and outcome.item_id and len(outcome.alert_ids) == 1
    assert store.hits_of(outcome.item_id)[0].rule == "ohchr"
    assert store.count("alerts") == 1


def test_same_feed_and_guid_is_seen_and_stores_nothing(store: Store) -> None:
    store.ingest("https://a.example/feed", [entry("1")])
    (outcome,) = store.ingest("https://a.example/feed", [entry("1", text=OTHER)])
    assert (outcome.status, outcome.reason, outcome.item_id) == ("seen", "guid", None)
    assert store.count("items") == 1


def test_a_republished_url_joins_the_first_story_without_an_alert(store: Store) -> None:
    first = store.ingest("https://a.example/feed", [entry("1", url="https://a.example/n/1?utm_source=rss")])
    (again,) = store.ingest("https://b.example/feed", [entry("x", text=OTHER, url="https://www.a.example/n/1")])
    assert (again.status, again.reason, again.story_id) == ("seen", "url", first[0].item_id)
    assert store.count("alerts") == 1


def test_a_near_identical_text_from_another_source_is_the_same_story(store: Store) -> None:
    first = store.ingest("https://a.example/feed", [entry("1")])
    edited = RELEASE.replace("the press service said", "BelTA reported")
    (copy,) = store.ingest("https://b.example/feed", [entry("other-guid", text=edited, source="https://b.example/feed")])
    (unrelated,) = store.ingest("https://b.example/feed", [entry("3", text=OTHER, source="https://b.example/feed")])

    assert (copy.status, copy.reason, copy.story_id) == ("seen", "story", first[0].item_id)
    assert unrelated.status == "new"
    assert store.count("items") == 3  # the copy is kept as an extra source
    assert store.count("alerts") == 2  # but alerted once per story


def test_dry_run_rolls_everything_back(store: Store) -> None:
    (outcome,) = store.ingest("https://a.example/feed", [entry("1")], dry_run=True)
    assert outcome.status == "new"
    assert store.count("items") == 0 and store.count("feeds") == 0 and store.count("alerts") == 0


def test_a_failure_mid_batch_leaves_nothing_half_written(store: Store) -> None:
    broken = entry("2")
    broken = Prepared(broken.item, [Hit("ohchr", "x", "text", 0, 1, None)], broken.fingerprint, None,
                        broken.alerts)  # matched=None violates NOT NULL
    with pytest.raises(IntegrityError, match="matched"):  # the NOT NULL column, on either backend
        store.ingest("https://a.example/feed", [entry("1"), broken])
    assert store.count("items") == 0 and store.count("hits") == 0 and store.count("alerts") == 0


def test_concurrent_writers_store_an_item_once(store: Store, db_url: str) -> None:
    stores = [Store(make_engine(db_url)) for _ in range(4)]
    outcomes = []
    barrier = threading.Barrier(len(stores))

    def write(s: Store) -> None:
        barrier.wait()
        outcomes.extend(s.ingest("https://a.example/feed", [entry(str(n)) for n in range(10)]))

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.engine.connect() as conn:
        guids = conn.execute(select(StoredItem.guid)).scalars().all()
        alerts = conn.execute(select(Alert.id)).scalars().all()
    assert sorted(guids) == sorted(str(n) for n in range(10))
    assert len([o for o in outcomes if o.status == "new" and o.story_id is None]) == 1
    assert len(alerts) == 1
    for s in stores:
        s.engine.dispose()


def test_retention_drops_old_unmatched_text_but_keeps_matches_and_dedupe(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    store.ingest("https://a.example/feed", [entry("old-match"), entry("old-miss", text=OTHER, hits=False)])
    assert store.prune_unmatched_text(datetime.now(UTC) - timedelta(days=1)) == 0  # too young

    pruned = store.prune_unmatched_text(datetime.now(UTC) + timedelta(seconds=1))

    assert pruned == 1
    with store.engine.connect() as conn:
        texts = dict(conn.execute(select(StoredItem.guid, ItemText.text).outerjoin(ItemText, ItemText.item_id == StoredItem.id)).all())
    assert texts["old-match"] and texts["old-miss"] is None
    (again,) = store.ingest("https://a.example/feed", [entry("old-miss", text=OTHER, hits=False)])
    assert (again.status, again.reason) == ("seen", "guid")
    (copy,) = store.ingest("https://b.example/feed", [entry("b-1", text=OTHER, hits=False, source="https://b.example/feed")])
    assert (copy.status, copy.reason) == ("seen", "story")  # fingerprints survive the prune


def test_repeats_inside_one_batch_are_recognised(store: Store) -> None:
    edited = RELEASE.replace("the press service said", "BelTA reported")
    outcomes = store.ingest("https://a.example/feed", [entry("1"), entry("1"), entry("2", text=edited)])
    assert [(o.status, o.reason) for o in outcomes] == [("new", None), ("seen", "guid"), ("seen", "story")]
    assert outcomes[2].story_id == outcomes[0].item_id
    assert store.count("items") == 2 and store.count("alerts") == 1


def test_rows_another_writer_stored_meanwhile_are_seen_and_the_rest_judged_without_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guid "2" is stored by someone else between the batch's guid check and its
    INSERT. The batch is judged as if item by item: "3" repeats "2"'s text, but "2"
    is not ours, so "3" starts a story of its own; hits and alerts only for ours."""
    from sqlalchemy.dialects import postgresql, sqlite

    from monitor.store import _batch

    edited = RELEASE.replace("the press service said", "BelTA reported")
    lock_stories = _batch.Batch._lock_stories

    def another_writer(batch: _batch.Batch, entries: list[Prepared]) -> None:
        lock_stories(batch, entries)
        insert = (postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert)(StoredItem)
        row = batch._item_row(batch.feed_ids[0], entry("2", text=OTHER[:1400], hits=False), None)
        batch.conn.execute(insert.values(**row))

    monkeypatch.setattr(_batch.Batch, "_lock_stories", another_writer)
    outcomes = store.ingest("https://a.example/feed", [entry("1", text=OTHER[1500:]), entry("2"),
                                                       entry("3", text=edited)])

    assert [(o.status, o.reason) for o in outcomes] == [("new", None), ("seen", "guid"), ("new", None)]
    assert outcomes[1].item_id is None and outcomes[1].alert_ids == ()
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(StoredItem.guid, StoredItem.id)).all())
        alerts = conn.execute(select(Alert.item_id, Alert.id).order_by(Alert.id)).all()
    assert (outcomes[0].item_id, outcomes[2].item_id) == (ids["1"], ids["3"])
    assert [tuple(a) for a in alerts] == [(ids["1"], outcomes[0].alert_ids[0]), (ids["3"], outcomes[2].alert_ids[0])]
    assert store.hits_of(ids["2"]) == [] and len(store.hits_of(ids["3"])) == 1
    assert store.count("hits") == 2


def test_a_story_that_starts_in_a_batch_links_its_later_repeats(store: Store) -> None:
    edited = RELEASE.replace("the press service said", "BelTA reported")
    outcomes = store.ingest("https://a.example/feed", [
        entry("1", url="https://a.example/n/1"), entry("2", text=OTHER), entry("3", text=edited),
        entry("4", text=OTHER, url="https://a.example/n/1?utm_source=rss"),
    ])
    first = outcomes[0].item_id
    assert [(o.status, o.reason, o.story_id) for o in outcomes] == [
        ("new", None, None), ("new", None, None), ("seen", "story", first), ("seen", "url", first)]
    with store.engine.connect() as conn:
        stored = conn.execute(select(StoredItem.guid, StoredItem.id, StoredItem.duplicate_of)
                              .order_by(StoredItem.id)).all()
    assert [(g, d) for g, _, d in stored] == [("1", None), ("2", None), ("3", first), ("4", first)]
    assert [o.item_id for o in outcomes] == [i for _, i, _ in stored]  # ids in batch order
    assert store.count("alerts") == 2


# storing several feeds in one transaction -------------------------------------

A, B, C, Z = (f"https://{name}.example/feed" for name in "abcz")
EDITED = RELEASE.replace("the press service said", "BelTA reported")


def prose(seed: int) -> str:
    """A text of its own: no story in common with the seeds or another seed of this."""
    words = ["harbour", "tariff", "vaccine", "glacier", "census", "orchestra", "railway", "drought", "satellite"]
    return " ".join(f"{words[(n * seed) % len(words)]}{seed}x{n % 17} report{n * seed % 29}" for n in range(90))


def group() -> list[tuple[str, list[Prepared]]]:
    """Feeds repeating each other every way there is: guid (within a feed, and the
    same guid in two feeds), canonical URL, identical and near-identical text, a
    story stored before the group, an empty feed, and a feed stored twice."""
    return [
        (A, [entry("a1", url="https://a.example/n/1", source=A), entry("same", text=OTHER, source=A),
             entry("same", text=OTHER, source=A)]),
        (B, [entry("same", text=prose(4), source=B), entry("b2", text=EDITED, source=B),
             entry("b3", text=prose(5), url="https://www.a.example/n/1?utm_source=rss", source=B)]),
        (C, [entry("c1", text=OTHER, hits=False, source=C), entry("c2", text=prose(3), source=C),
             entry("c3", text=prose(4), source=C)]),
        ("https://d.example/feed", []),
        (A, [entry("a1", text=prose(7), source=A), entry("a4", text=prose(6), source=A)]),
    ]


def described(store: Store, by_feed: list[list[Outcome]]) -> list[list[tuple]]:
    """Outcomes with row ids replaced by what they name (feed URL and guid), so runs
    on databases that handed out other ids compare."""
    with store.engine.connect() as conn:
        names = {i: (url, guid) for i, url, guid in conn.execute(
            select(StoredItem.id, Feed.url, StoredItem.guid).join(Feed, Feed.id == StoredItem.feed_id))}
        alerts = {i: (names[item], channel) for i, item, channel in conn.execute(
            select(Alert.id, Alert.item_id, Alert.channel))}
    return [[(o.status, o.reason, names.get(o.item_id), names.get(o.story_id), [alerts[a] for a in o.alert_ids])
             for o in outcomes] for outcomes in by_feed]


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every stored row, by what it names rather than by id."""
    with store.engine.connect() as conn:
        names = {i: (url, guid) for i, url, guid in conn.execute(
            select(StoredItem.id, Feed.url, StoredItem.guid).join(Feed, Feed.id == StoredItem.feed_id))}
        items = [(names[i], names.get(d), m) for i, d, m in conn.execute(
            select(StoredItem.id, StoredItem.duplicate_of, StoredItem.matched))]
        hits = [(names[i], rule) for i, rule in conn.execute(select(StoredHit.item_id, StoredHit.rule))]
        alerts = [(names[i], channel, key) for i, channel, key in conn.execute(
            select(Alert.item_id, Alert.channel, Alert.idempotency_key))]
        feeds = [tuple(row) for row in conn.execute(
            select(Feed.url, Feed.items_seen, Feed.last_new_item_at.is_not(None)))]
    return {name: sorted(rows, key=repr) for name, rows in
            {"items": items, "hits": hits, "alerts": alerts, "feeds": feeds}.items()}


def fresh(store: Store) -> Store:
    """The same database emptied, with one story stored before the group, and a store
    that remembers no feed ids of before."""
    with store.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    again = Store(store.engine)
    again.ingest(Z, [entry("z1", text=prose(3), source=Z)])
    return again


def test_feeds_stored_together_have_the_outcomes_and_rows_of_feeds_stored_one_by_one(store: Store) -> None:
    store = fresh(store)
    one_by_one = described(store, [store.ingest(source, batch) for source, batch in group()])
    rows = snapshot(store)
    store = fresh(store)
    together = described(store, store.ingest_many(group()))

    assert together == one_by_one
    assert snapshot(store) == rows
    assert [[(status, reason, story) for status, reason, _, story, _ in feed] for feed in together] == [
        [("new", None, None), ("new", None, None), ("seen", "guid", None)],
        [("new", None, None), ("seen", "story", (A, "a1")), ("seen", "url", (A, "a1"))],  # same guid, other feed
        [("seen", "story", (A, "same")), ("seen", "story", (Z, "z1")), ("seen", "story", (B, "same"))],
        [],
        [("seen", "guid", (A, "a1")), ("new", None, None)],  # the feed's batch before is stored, as one by one
    ]
    assert len(rows["alerts"]) == 5  # z1, a1, A's same, B's same, a4
    assert [(url, seen) for url, seen, _ in rows["feeds"]] == [
        (A, 3), (B, 3), (C, 3), ("https://d.example/feed", 0), (Z, 1)]


def test_a_conflict_in_one_feed_of_a_group_is_judged_as_one_by_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer stores B's "b2" between the group's guid check and its INSERT:
    "b2" alone is seen, every other item of every feed is stored as if the feeds
    had gone one after the other."""
    from sqlalchemy.dialects import postgresql, sqlite

    from monitor.store import _batch

    lock_stories = _batch.Batch._lock_stories

    def another_writer(batch: _batch.Batch, entries: list[Prepared]) -> None:
        lock_stories(batch, entries)
        feed_id = store._feed_id(batch.conn, B)
        if feed_id in batch.feed_ids:
            insert = (postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert)(StoredItem)
            batch.conn.execute(insert.values(**batch._item_row(feed_id, entry("b2", text=prose(8), hits=False), None)))

    monkeypatch.setattr(_batch.Batch, "_lock_stories", another_writer)
    feeds = group()[:3]
    store = fresh(store)
    one_by_one = described(store, [store.ingest(source, batch) for source, batch in feeds])
    rows = snapshot(store)
    store = fresh(store)
    together = store.ingest_many(feeds)

    assert described(store, together) == one_by_one
    assert snapshot(store) == rows
    assert [(o.status, o.reason, o.item_id) for o in together[1]][1] == ("seen", "guid", None)
    assert [o.status for o in together[0] + together[2]] == ["new", "new", "seen", "seen", "seen", "seen"]


def test_a_dry_run_of_a_group_stores_nothing_and_says_what_a_run_would(store: Store) -> None:
    dry = store.ingest_many(group(), dry_run=True)
    assert store.count("items") == 0 and store.count("feeds") == 0 and store.count("alerts") == 0
    real = store.ingest_many(group())
    def judged(by_feed: list[list[Outcome]]) -> list[list[tuple]]:
        return [[(o.status, o.reason) for o in feed] for feed in by_feed]

    assert judged(dry) == judged(real)


def test_a_trimmed_copy_on_another_feed_joins_the_story_and_does_not_alert(store: Store) -> None:
    from tests.dedupe.test_stories import HEADLINE, TRIMMED, WHOLE

    def copy(source: str, guid: str, title: str, text: str) -> Prepared:
        item = Item(source=source, guid=guid, title=title, text=text, url=f"{source}/{guid}")
        return Prepared(item, [Hit("ohchr", "OHCHR", "text", 0, 5, text[:5])], fingerprint(item),
                        canonical_url(item.url), [AlertRequest("email", ("ohchr",))])

    (first,) = store.ingest("https://news.un.org/feed", [copy("https://news.un.org", "1", HEADLINE, WHOLE)])
    (wire,) = store.ingest("https://wire.example/rss", [copy("https://wire.example", "w1", f"UN: {HEADLINE}", TRIMMED)])
    assert (wire.status, wire.reason, wire.story_id, wire.alert_ids) == ("seen", "story", first.item_id, ())
    assert store.count("alerts") == 1

    with store.engine.begin() as conn:  # the same headline long after: another story
        conn.execute(StoredItem.__table__.update().values(
            ingested_at=datetime.now(UTC) - HEADLINE_WINDOW - timedelta(hours=1)))
    (late,) = store.ingest("https://late.example/rss", [copy("https://late.example", "l1", HEADLINE, TRIMMED)])
    assert (late.status, late.reason) == ("new", None) and len(late.alert_ids) == 1


def test_stories_sharing_a_boilerplate_headline_each_alert(store: Store) -> None:
    def briefing(guid: str, news: str) -> Prepared:
        text = "Good afternoon. Here are the highlights of the noon briefing by the Spokesperson. " + news
        item = Item(source="https://un.example/feed", guid=guid, title="Press briefing", text=text)
        return Prepared(item, [Hit("ohchr", "OHCHR", "text", 0, 5, text[:5])], fingerprint(item), None,
                        [AlertRequest("email", ("ohchr",))])

    outcomes = store.ingest("https://un.example/feed", [
        briefing("mon", "The Secretary-General will travel to Addis Ababa to attend the African Union summit."),
        briefing("tue", "On Haiti, food insecurity now affects half of the population, the coordinator said."),
    ])
    (wed,) = store.ingest("https://un.example/feed", [
        briefing("wed", "The Security Council will hold consultations on Syria this afternoon, in private.")])
    assert [o.status for o in [*outcomes, wed]] == ["new"] * 3 and store.count("alerts") == 3


def test_instances_storing_copies_of_one_story_at_once_agree_on_one_root(store: Store, db_url: str) -> None:
    """Four writers (four daemons on one PostgreSQL) store the whole story and three
    trimmed or labelled copies at the same moment, each from its own feed: the copies
    share no text hash, only the headline, and still make one story and one alert."""
    from tests.dedupe.test_stories import HEADLINE, SENTENCES, TRIMMED, WHOLE

    copies = [(HEADLINE, WHOLE), (f"UN: {HEADLINE}", TRIMMED), (f"{HEADLINE} - Wire", " ".join(SENTENCES[:2])
                                                                 + " All rights reserved."),
              (f"UPDATE: {HEADLINE}", "\n\n".join(SENTENCES))]
    stores = [Store(make_engine(db_url)) for _ in copies]
    barrier = threading.Barrier(len(stores))
    outcomes: list[Outcome] = []

    def write(s: Store, n: int) -> None:
        title, text = copies[n]
        item = Item(source=f"https://feed{n}.example/rss", guid=f"g{n}", title=title, text=text,
                    url=f"https://feed{n}.example/story")
        prepared = Prepared(item, [Hit("ohchr", "OHCHR", "text", 0, 5, text[:5])], fingerprint(item),
                            canonical_url(item.url), [AlertRequest("email", ("ohchr",))])
        barrier.wait()
        outcomes.extend(s.ingest(item.source, [prepared]))

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([o for o in outcomes if o.status == "new"]) == 1
    assert store.count("alerts") == 1
    for s in stores:
        s.engine.dispose()
