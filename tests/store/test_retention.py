"""Retention over a generated year: unmatched texts, hits and delivery attempts
each age out after their own setting, and the story window's prints with the
window, in transactions of at most one batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bench.yeardata import Shape, generate
from monitor.app import App, retention_policy
from monitor.config import load_config
from monitor.dedupe import STORY_WINDOW
from monitor.store.engine import make_engine
from monitor.store.retention import Retention, RetentionPolicy
from monitor.store.stored import Change, StoredItems
from tests.conftest import RULES

NOW = datetime.now(UTC)


@pytest.fixture
def year(db_url: str) -> Iterator[Engine]:
    generate(db_url, Shape(1_500, feeds=10), now=NOW)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _count(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_each_kind_ages_out_after_its_own_days_and_nothing_younger_goes(year: Engine) -> None:
    texts_before, hits_before, attempts_before = NOW - timedelta(days=30), NOW - timedelta(days=200), \
        NOW - timedelta(days=90)
    old_unmatched = _count(year, "SELECT count(*) FROM items WHERE NOT matched AND ingested_at < :t",
                           t=texts_before)
    young_texts = _count(year, "SELECT count(*) FROM items WHERE matched OR ingested_at >= :t", t=texts_before)
    young_hits = _count(year, "SELECT count(*) FROM hits JOIN items ON items.id = hits.item_id "
                              "WHERE items.ingested_at >= :t", t=hits_before)
    old_hits = _count(year, "SELECT count(*) FROM hits") - young_hits
    young_attempts = _count(year, "SELECT count(*) FROM delivery_attempts WHERE at >= :t", t=attempts_before)
    old_attempts = _count(year, "SELECT count(*) FROM delivery_attempts") - young_attempts
    assert old_unmatched and young_texts and old_hits and young_hits and old_attempts and young_attempts

    report = Retention(year, batch=50).run(
        RetentionPolicy(texts_before=texts_before, hits_before=hits_before, attempts_before=attempts_before))

    assert (report.texts, report.hits, report.attempts) == (old_unmatched, old_hits, old_attempts)
    assert _count(year, "SELECT count(*) FROM items") == 1_500  # items stay: dedupe needs them
    assert _count(year, "SELECT count(*) FROM item_texts") == young_texts
    assert _count(year, "SELECT count(*) FROM hits") == young_hits
    assert _count(year, "SELECT count(*) FROM delivery_attempts") == young_attempts
    # In batches: no transaction touched more than 50 rows.
    assert report.transactions >= (old_unmatched + old_hits + old_attempts) // 50
    again = Retention(year, batch=50).run(RetentionPolicy(texts_before=texts_before, hits_before=hits_before,
                                                          attempts_before=attempts_before))
    assert (again.texts, again.hits, again.attempts) == (0, 0, 0)


def test_a_kind_without_a_cutoff_is_kept(year: Engine) -> None:
    hits, attempts = _count(year, "SELECT count(*) FROM hits"), _count(year, "SELECT count(*) FROM delivery_attempts")
    report = Retention(year).run(RetentionPolicy(texts_before=NOW - timedelta(days=30)))
    assert report.texts > 0 and (report.hits, report.attempts) == (0, 0)
    assert _count(year, "SELECT count(*) FROM hits") == hits
    assert _count(year, "SELECT count(*) FROM delivery_attempts") == attempts


def test_story_prints_go_as_the_window_passes_them(year: Engine) -> None:
    """The near-copy lookup's table holds the story window, not the year: generated
    with the window's items, it keeps only the younger ones after a later cutoff."""
    window = _count(year, "SELECT count(*) FROM items WHERE ingested_at >= :t", t=NOW - STORY_WINDOW)
    assert window and _count(year, "SELECT count(*) FROM story_prints") == window
    cutoff = NOW - timedelta(days=7)
    younger = _count(year, "SELECT count(*) FROM items WHERE ingested_at >= :t", t=cutoff)
    assert 0 < younger < window

    report = Retention(year, batch=10).run(RetentionPolicy(prints_before=cutoff))

    assert report.prints == window - younger
    assert _count(year, "SELECT count(*) FROM story_prints") == younger
    assert _count(year, "SELECT count(*) FROM story_prints p JOIN items i ON i.id = p.item_id "
                        "WHERE i.ingested_at < :t", t=cutoff) == 0
    assert _count(year, "SELECT count(*) FROM items") == 1_500


def test_a_run_walks_only_what_was_stored_since_the_last(year: Engine) -> None:
    """Items are walked in the order they were stored, from a mark: a daily run reads a
    day of items, not the year it has already done (whose matched texts stay)."""
    first = Retention(year, batch=50).run(RetentionPolicy(texts_before=NOW - timedelta(days=60)))
    assert first.texts > 0
    mark = _count(year, "SELECT last_id FROM retention_marks WHERE task = 'texts'")
    assert mark == _count(year, "SELECT max(id) FROM items WHERE NOT matched AND ingested_at < :t",
                          t=NOW - timedelta(days=60))

    later = Retention(year, batch=50).run(RetentionPolicy(texts_before=NOW - timedelta(days=30)))

    unmatched_between = _count(year, "SELECT count(*) FROM items WHERE NOT matched AND ingested_at >= :a "
                                     "AND ingested_at < :b", a=NOW - timedelta(days=60), b=NOW - timedelta(days=30))
    assert later.texts == unmatched_between  # not one item of the first run's span again
    assert _count(year, "SELECT count(*) FROM items JOIN item_texts ON item_id = id WHERE NOT matched "
                        "AND ingested_at < :t", t=NOW - timedelta(days=30)) == 0
    assert _count(year, "SELECT count(*) FROM items JOIN item_texts ON item_id = id WHERE matched") == \
        _count(year, "SELECT count(*) FROM items WHERE matched")  # every match keeps its text


def test_a_batch_ending_within_an_items_hits_leaves_none_of_them(year: Engine) -> None:
    before = NOW - timedelta(days=100)
    several = _count(year, "SELECT count(*) FROM (SELECT item_id FROM hits JOIN items ON items.id = item_id "
                           "WHERE ingested_at < :t GROUP BY item_id HAVING count(*) > 1) AS s", t=before)
    assert several  # items with more than one hit: a batch of one ends within them

    Retention(year, batch=1).run(RetentionPolicy(hits_before=before))

    assert _count(year, "SELECT count(*) FROM hits JOIN items ON items.id = item_id WHERE ingested_at < :t",
                  t=before) == 0


def test_an_old_item_that_stops_matching_loses_its_text_on_the_next_run(year: Engine) -> None:
    Retention(year).run(RetentionPolicy(texts_before=NOW - timedelta(days=30)))
    old_match = _count(year, "SELECT min(id) FROM items WHERE matched AND duplicate_of IS NULL")
    items = StoredItems(year)
    run = items.start_run("test", "v-test")
    items.apply(run.id, [Change(old_match, (), "no longer matches")], first_id=old_match, last_id=old_match,
                scanned=1, since=None, rules_version=None)

    again = Retention(year).run(RetentionPolicy(texts_before=NOW - timedelta(days=30)))

    assert _count(year, "SELECT count(*) FROM item_texts WHERE item_id = :i", i=old_match) == 0
    assert again.texts >= 1


def _app(tmp_path: Path, retention: str = "") -> App:
    path = tmp_path / "monitor.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n[rules]\npaths = [{str(RULES)!r}]\n{retention}', encoding="utf-8")
    return App(load_config(path))


def test_the_settings_default_to_30_days_of_text_hits_forever_and_90_days_of_attempts(tmp_path: Path) -> None:
    policy = retention_policy(_app(tmp_path), NOW)
    assert policy == RetentionPolicy(texts_before=NOW - timedelta(days=30), hits_before=None,
                                     attempts_before=NOW - timedelta(days=90), prints_before=NOW - STORY_WINDOW)


def test_the_settings_are_read_from_the_config(tmp_path: Path) -> None:
    app = _app(tmp_path, "[retention]\nunmatched_text_days = 7\nhits_days = 365\ndelivery_attempts_days = 0\n")
    assert retention_policy(app, NOW) == RetentionPolicy(
        texts_before=NOW - timedelta(days=7), hits_before=NOW - timedelta(days=365), attempts_before=None,
        prints_before=NOW - STORY_WINDOW)  # not a setting: the window's


def test_the_daemon_job_runs_the_batches_on_its_database_thread_letting_commits_in_between(
    year: Engine, db_url: str, tmp_path: Path
) -> None:
    """A poll commit queued on the daemon's database thread while retention runs goes in
    after one batch, not after the whole job."""
    import asyncio
    import time

    from monitor.daemon import Daemon
    from monitor.store.repository import Store
    from tests.store.test_repository import entry

    path = tmp_path / "monitor.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n[database]\nurl = {db_url!r}\n[rules]\npaths = [{str(RULES)!r}]\n'
                    "[retention]\ndelivery_attempts_days = 30\n", encoding="utf-8")
    daemon = Daemon(path, App(load_config(path)))
    store = Store(year)
    old_texts = _count(year, "SELECT count(*) FROM items WHERE NOT matched AND ingested_at < :t",
                       t=datetime.now(UTC) - timedelta(days=30))

    async def scenario() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        job = asyncio.create_task(daemon.retention())
        await asyncio.sleep(0)  # the job has queued its first batch
        began = time.perf_counter()
        await loop.run_in_executor(daemon.db, store.ingest, "https://poll.example/feed", [entry("during")])
        committed = time.perf_counter() - began
        await job
        return committed, time.perf_counter() - began

    try:
        committed, whole = asyncio.run(scenario())
    finally:
        daemon.db.shutdown(wait=True)
        daemon.app.engine.dispose()
    assert _count(year, "SELECT count(*) FROM items WHERE guid = 'during'") == 1
    assert _count(year, "SELECT count(*) FROM items JOIN item_texts ON item_id = id WHERE NOT matched "
                        "AND ingested_at < :t", t=datetime.now(UTC) - timedelta(days=30)) == 0
    assert old_texts > 0
    assert committed < whole  # the commit went in between two batches, not after the whole job
