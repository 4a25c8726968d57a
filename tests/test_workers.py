"""Worker processes: the CPU-bound half of a poll, ready before the first poll."""

from __future__ import annotations

import multiprocessing
import os

from monitor.workers import make_pool, prepare_feed
from tests.conftest import RULES
from tests.feedserver import feed_xml


def test_the_pool_starts_its_workers_at_once_and_they_prepare_feeds() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    pool = make_pool(sorted(RULES.glob("*.toml")), 2)
    try:
        # Started by make_pool itself, not by the first poll: exactly two new
        # child processes exist before any feed has been submitted.
        started = {p.pid for p in multiprocessing.active_children()} - before
        assert len(started) == 2
        body = feed_xml([{"guid": "1", "title": "OHCHR opens a country office", "description": "Geneva."}])
        prepared = pool.submit(prepare_feed, body, {}, "https://mfa.example/rss").result(timeout=60)
        ran_in = {pool.submit(os.getpid).result(timeout=60) for _ in range(4)}
        assert ran_in <= started and os.getpid() not in ran_in  # the work runs in those workers
        assert {p.pid for p in multiprocessing.active_children()} - before == started  # and no others
    finally:
        pool.shutdown()
    assert [entry.item.title for entry in prepared.entries] == ["OHCHR opens a country office"]
    assert [hit.rule for hit in prepared.entries[0].hits] == ["ohchr"]
