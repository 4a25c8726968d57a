"""The store: one transaction per batch, duplicates impossible, outbox beside hits."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from monitor.dedupe import canonical_url, fingerprint
from monitor.items import Hit, Item
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.models import Alert, StoredItem
from monitor.store.repository import AlertRequest, Classified, Store
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
          hits: bool = True) -> Classified:
    item = Item(source=source, guid=guid, title="Sekreta meets Türk", text=text, url=url)
    found = [Hit("ohchr", "OHCHR", "text", 0, 5, text[:5])] if hits else []
    return Classified(item, found, fingerprint(item), canonical_url(url),
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
    broken = Classified(broken.item, [Hit("ohchr", "x", "text", 0, 1, None)], broken.fingerprint, None,
                        broken.alerts)  # matched=None violates NOT NULL
    with pytest.raises(Exception):
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
        texts = dict(conn.execute(select(StoredItem.guid, StoredItem.text)).all())
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

    from monitor.store import repository

    edited = RELEASE.replace("the press service said", "BelTA reported")
    lock_stories = repository._Batch._lock_stories

    def another_writer(batch: repository._Batch, entries: list[Classified]) -> None:
        lock_stories(batch, entries)
        insert = (postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert)(StoredItem)
        row = batch._item_row(entry("2", text=OTHER, hits=False), None)
        batch.conn.execute(insert.values(**row))

    monkeypatch.setattr(repository._Batch, "_lock_stories", another_writer)
    outcomes = store.ingest("https://a.example/feed", [entry("1", text=OTHER[:1500]), entry("2"),
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
