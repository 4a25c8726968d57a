"""Worker processes: the CPU-bound half of a poll, ready before the first poll."""

from __future__ import annotations

import multiprocessing

from monitor.pipeline.workers import make_pool, prepare_feed
from tests.conftest import RULES
from tests.feedserver import feed_xml


def test_the_pool_starts_its_workers_at_once_and_they_prepare_feeds() -> None:
    pool = make_pool(sorted(RULES.glob("*.toml")), 2)
    try:
        assert len(multiprocessing.active_children()) >= 2  # started, not on the first poll
        body = feed_xml([{"guid": "1", "title": "OHCHR opens a country office", "description": "Geneva."}])
        prepared = pool.submit(prepare_feed, body, {}, "https://mfa.example/rss").result(timeout=60)
    finally:
        pool.shutdown()
    assert [entry.item.title for entry in prepared.entries] == ["OHCHR opens a country office"]
    assert [hit.rule for hit in prepared.entries[0].hits] == ["ohchr"]
