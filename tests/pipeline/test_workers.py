"""Worker processes: the CPU-bound half of a poll, ready before the first poll."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from monitor.pipeline.workers import WorkerDied, make_pool, prepare_feed
from monitor.store.models import StoredItem
from tests.conftest import RULES
from tests.daemon_process import DaemonProcess
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import write_config
from tests.processes import children, descendants, wait_for_value


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


def _die_once(marker: str) -> str:
    """Kill the worker running it the first time (as the OOM killer would), succeed the second."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


def _always_die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_task_whose_worker_dies_is_run_again_on_a_new_pool(tmp_path: Path) -> None:
    pool = make_pool(sorted(RULES.glob("*.toml")), 1)
    try:
        assert pool.submit(_die_once, str(tmp_path / "marker")).result(timeout=60) == "survived"
        body = feed_xml([{"guid": "1", "title": "OHCHR opens a country office", "description": "Geneva."}])
        prepared = pool.submit(prepare_feed, body, {}, "https://mfa.example/rss").result(timeout=60)
        assert [e.item.title for e in prepared.entries] == ["OHCHR opens a country office"]
    finally:
        pool.shutdown()


def test_a_task_that_kills_its_worker_twice_fails_alone_and_the_pool_goes_on() -> None:
    pool = make_pool(sorted(RULES.glob("*.toml")), 1)
    try:
        with pytest.raises(WorkerDied):
            pool.submit(_always_die).result(timeout=60)
        assert pool.submit(int, "7").result(timeout=60) == 7
    finally:
        pool.shutdown()


def test_a_killed_worker_under_monitor_run_is_replaced_and_polling_goes_on(tmp_path: Path) -> None:
    """kill -9 of the only parse worker: the next poll of a new entry stores it."""
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    from monitor.store.engine import make_engine
    with FeedServer() as server:
        url = server.add_feed("/press.xml", feed_xml([{"guid": "one", "title": "First", "description": "x"}]))
        config = write_config(tmp_path, db_url, [url], schedule={
            "tick_s": 0.2, "parse_workers": 1, "latency_target_s": 1, "min_interval_s": 1})
        daemon = DaemonProcess(config)
        proc = daemon.proc
        engine = make_engine(db_url)

        def stored() -> list[str]:
            try:
                with engine.connect() as conn:
                    return list(conn.execute(select(StoredItem.guid)).scalars())
            except DBAPIError:  # not migrated yet
                return []

        try:
            wait_for_value(lambda: stored() == ["one"], timeout=30)
            forkserver = wait_for_value(lambda: [p for p in descendants(proc.pid) if children(p)], timeout=10)[0]
            (worker,) = children(forkserver)
            os.kill(worker, signal.SIGKILL)
            killed = time.monotonic()
            server.publish("/press.xml", feed_xml([{"guid": "two", "title": "Second", "description": "y"},
                                                   {"guid": "one", "title": "First", "description": "x"}]))
            wait_for_value(lambda: sorted(stored()) == ["one", "two"], timeout=30)
            print(f"kill -9 of the worker to the next stored poll: {time.monotonic() - killed:.2f} s")
            assert proc.poll() is None
        finally:
            daemon.__exit__(None, None, None)
            engine.dispose()
