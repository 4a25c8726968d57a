"""Live polling against a real HTTP server on 127.0.0.1 and a real database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from monitor.app import App, poll_once
from monitor.config import load_config
from monitor.items import Hit, Prepared
from monitor.pipeline import Pipeline
from monitor.pipeline.polling import _Committer
from monitor.rules import compile_rules, load_rules
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore
from monitor.store.models import StoredItem
from monitor.store.repository import Store
from tests.conftest import RULES, SEEDS
from tests.feedserver import FeedServer, feed_xml
from tests.store.test_repository import entry, prose

HOSTILE = ["slow", "huge", "gzip-bomb", "redirect-loop", "html", "malformed", "404", "500", "429", "410"]


def seed_entries() -> list[dict]:
    now = datetime.now(UTC)
    return [
        {"title": f"Seed {p.name[:3]}", "link": f"https://press.example/{p.stem}", "guid": p.stem,
         "description": p.read_text(encoding="utf-8"), "pubDate": now - timedelta(hours=i)}
        for i, p in enumerate(sorted(SEEDS.glob("*.txt")))
    ]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def write_config(
    tmp_path: Path, db_url: str, feeds: list[str], *, fetch: dict | None = None,
    schedule: dict | None = None, log_level: str = "WARNING",
) -> Path:
    """A config polling `feeds`, allowed to reach 127.0.0.1 only, with short deadlines."""
    sections = {
        "database": {"url": db_url},
        "rules": {"paths": [str(RULES)]},
        "log": {"level": log_level},
        "fetch": {"allowed_networks": ["127.0.0.1/32"], "deadline_s": 3, "read_timeout_s": 2, **(fetch or {})},
        "schedule": {"parse_workers": 0, "min_interval_s": 60, **(schedule or {})},
        "web": {"port": 0},  # tests run side by side: never the fixed default port
    }
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    lines += [f"[[feeds]]\nurl = {json.dumps(url)}" for url in feeds]
    path = tmp_path / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cycle(config: Path, *, all_feeds: bool = False):
    app = App(load_config(config))
    try:
        return poll_once(app, all_feeds=all_feeds)
    finally:
        app.engine.dispose()


def stored_items(db_url: str, config: Path) -> list[StoredItem]:
    app = App(load_config(config))
    with app.engine.connect() as conn:
        rows = conn.execute(select(StoredItem.guid, StoredItem.matched)).all()
    app.engine.dispose()
    return rows


def test_first_cycle_stores_second_gets_304_new_entry_stored_once(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    entries = seed_entries()
    url = server.add_feed("/press.xml", feed_xml(entries))
    config = write_config(tmp_path, db_url, [url])

    first = cycle(config)
    assert [(p.result, p.new, p.matched) for p in first.polls] == [("new", 2, 2)]

    second = cycle(config, all_feeds=True)
    assert [p.result for p in second.polls] == ["not-modified"]
    assert server.last_headers("/press.xml").get("if-none-match")

    fresh = {"title": "ILO Governing Body opens", "link": "https://press.example/ilo-gb", "guid": "ilo-gb",
             "description": "The International Labour Organization Governing Body met in Geneva.",
             "pubDate": datetime.now(UTC)}
    server.publish("/press.xml", feed_xml([fresh, *entries]))
    third = cycle(config, all_feeds=True)
    fourth = cycle(config, all_feeds=True)
    assert [(p.result, p.new, p.matched) for p in third.polls] == [("new", 1, 1)]
    assert [p.result for p in fourth.polls] == ["not-modified"]
    assert sorted(r.guid for r in stored_items(db_url, config)) == sorted(["ilo-gb", *(e["guid"] for e in entries)])
    assert server.requests("/press.xml") == 4


def test_a_feed_not_yet_due_is_left_alone(server: FeedServer, tmp_path: Path, db_url: str) -> None:
    url = server.add_feed("/press.xml", feed_xml(seed_entries()))
    config = write_config(tmp_path, db_url, [url])
    cycle(config)
    assert cycle(config).polls == []
    assert server.requests("/press.xml") == 1


def test_hostile_servers_are_recorded_errors_and_the_good_feed_still_polls(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    good = server.add_feed("/good.xml", feed_xml(seed_entries()))
    hostile = {name: server.hostile_url(name) for name in HOSTILE}
    hostile["private-redirect"] = server.redirect_url(f"http://127.0.0.2:{server.port}/good.xml")
    config = write_config(tmp_path, db_url, [good, *hostile.values()])

    report = cycle(config)

    by_url = {p.url: p for p in report.polls}
    assert by_url[good].result == "new" and by_url[good].new == 2
    app = App(load_config(config))
    states = {f.url: f for f in FeedStore(app.engine).all()}
    app.engine.dispose()
    now = datetime.now(UTC)
    for name, url in hostile.items():
        state = states[url]
        if name == "malformed":
            # broken XML that still yields nothing usable is an error; either way it is recorded
            assert state.last_error, name
            continue
        assert by_url[url].result == "error", name
        assert state.consecutive_errors == 1 and state.last_error, name
        assert state.lease_owner is None, name
        if name == "410":
            assert not state.enabled and "410" in state.disabled_reason
        else:
            assert state.enabled and state.next_poll_at > now, name
    assert states[hostile["429"]].next_poll_at >= now + timedelta(seconds=110)
    assert "127.0.0.2" in states[hostile["private-redirect"]].last_error
    assert "not a feed" in states[hostile["html"]].last_error


def test_memory_stays_bounded_against_huge_bodies_and_gzip_bombs(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    urls = [server.hostile_url("huge"), server.hostile_url("gzip-bomb"), server.hostile_url("huge-declared")]
    baseline_dir = tmp_path / "baseline"
    baseline_dir.mkdir()
    baseline_kib, _, _ = peak_of_poll(write_config(baseline_dir, db_url, []))
    peak_kib, code, out = peak_of_poll(write_config(tmp_path, db_url, urls, fetch={"deadline_s": 20}))

    results = [json.loads(line) for line in out.splitlines()]
    assert code == 5  # done, but some feeds failed: its own exit code
    assert [r["result"] for r in results] == ["error"] * 3
    assert all("exceeds" in r["error"] for r in results), results
    # 50 MB, 10 GiB inflated and 512 MiB declared, all at once: the process may grow
    # by at most its three capped buffers (15 MiB each) and their bookkeeping.
    growth = (peak_kib - baseline_kib) // 1024
    assert baseline_kib > 0 and growth < 80, f"peak RSS {peak_kib // 1024} MiB, {growth} MiB over a poll of nothing"


def peak_of_poll(config: Path) -> tuple[int, int, str]:
    """Peak RSS (KiB), exit code and stdout of `monitor poll --once --json` on `config`."""
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "poll", "--once", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    peak_kib = 0
    while proc.poll() is None:
        peak_kib = max(peak_kib, high_water_kib(proc.pid))
        time.sleep(0.01)
    return peak_kib, proc.returncode, proc.stdout.read().decode()


def high_water_kib(pid: int) -> int:
    """The process's own peak RSS (VmHWM). Not ru_maxrss: a child inherits the
    parent's peak through fork, which would measure pytest instead."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else 0


def test_two_processes_started_together_poll_each_feed_once(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    urls = [server.add_feed(f"/f{n}.xml", feed_xml(seed_entries()), delay=0.05) for n in range(20)]
    config = write_config(tmp_path, db_url, urls)
    App(load_config(config)).upgrade()  # both processes find the schema in place
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    procs = [subprocess.Popen([sys.executable, "-m", "monitor", "poll", "--once", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.decode() for _, e in outputs]
    polled = [json.loads(line)["feed"] for out, _ in outputs for line in out.decode().splitlines()]
    assert sorted(polled) == sorted(urls)
    assert [server.requests(f"/f{n}.xml") for n in range(20)] == [1] * 20
    app = App(load_config(config))
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(StoredItem)).scalar_one() == 40
    app.engine.dispose()


def test_claims_keep_a_few_feeds_of_each_origin_under_way() -> None:
    from monitor.pipeline.polling import _DuePlan

    plan = _DuePlan(per_origin=2)
    a, b, c = "http://a.example/", "http://B.example/", "http://c.example:8080/"
    plan.refill([(1, a + "1"), (2, b + "1"), (3, a + "2"), (4, b + "2"), (5, a + "3"), (6, c + "1"),
                 (7, a + "4"), (8, "https://a.example/5"), (9, a + "6")])
    assert plan.take(4) == [1, 3, 2, 4]  # origins in order of their most overdue feed, 2 each
    assert plan.take(3) == [6, 8, 5]  # a is full: new origins (https://a is another one)...
    assert plan.take(1) == [7]  # ...and only when there are none left, more of each
    plan.done(1)
    plan.done(3)
    assert plan.take(5) == [9]
    assert not plan


def test_a_cycle_fetches_each_origins_feeds_on_its_own_connections(tmp_path: Path, db_url: str) -> None:
    """Three sites, a pool of two connections: claims grouped by origin reuse them;
    claims across all sites at once would reconnect for nearly every request."""
    with FeedServer() as a, FeedServer() as b, FeedServer() as c:
        sites = [a, b, c]
        urls = [sites[n % 3].add_feed(f"/f{n}.xml", feed_xml(seed_entries())) for n in range(24)]
        config = write_config(tmp_path, db_url, urls, fetch={"concurrency": 2, "per_host_concurrency": 1})
        cycle(config)
        for site in sites:
            site.reset_stats()
        report = cycle(config, all_feeds=True)
        assert [p.result for p in report.polls] == ["not-modified"] * 24
        assert sum(site.connections for site in sites) <= 6  # one or two per site


def test_a_cycle_records_its_successes_in_a_few_transactions(
    server: FeedServer, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [server.add_feed(f"/f{n}.xml", feed_xml(seed_entries())) for n in range(20)]
    config = write_config(tmp_path, db_url, urls)
    cycle(config)
    batches: list[int] = []
    record_many = FeedStore.record_many

    def counting(self: FeedStore, owner: str, successes: list) -> int:
        batches.append(len(successes))
        return record_many(self, owner, successes)

    monkeypatch.setattr(FeedStore, "record_many", counting)
    report = cycle(config, all_feeds=True)
    assert [p.result for p in report.polls] == ["not-modified"] * 20
    assert sum(batches) == 20 and len(batches) <= 5
    app = App(load_config(config))
    states = FeedStore(app.engine).all()
    app.engine.dispose()
    assert all(s.lease_owner is None and s.next_poll_at > datetime.now(UTC) for s in states)


# storing the items of several polls in one transaction ------------------------

def committer_on(db_url: str) -> tuple[_Committer, ThreadPoolExecutor, Store, list[int]]:
    """A committer on a real database, its db thread, its store, and a list that grows
    by one at each transaction committed."""
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    store = Store(engine)
    db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
    return _Committer(Pipeline(compile_rules(load_rules(sorted(RULES.glob("*.toml")))), store), db), db, store, commits


async def while_busy(committer: _Committer, db: ThreadPoolExecutor, feeds: list[tuple[str, list]]) -> list:
    """Commit `feeds` while the db thread is busy with something else, then free it;
    each poll's results, or the exception it got."""
    loop = asyncio.get_running_loop()
    free = threading.Event()
    busy = loop.run_in_executor(db, free.wait, 10)
    polls = [asyncio.create_task(committer.commit(source, entries)) for source, entries in feeds]
    for _ in range(3):
        await asyncio.sleep(0)  # every poll queues its items
    free.set()
    await busy
    return await asyncio.gather(*polls, return_exceptions=True)


def test_polls_finished_while_the_db_thread_is_busy_are_stored_in_one_transaction(db_url: str) -> None:
    committer, db, store, commits = committer_on(db_url)
    feeds = [(f"https://f{n}.example/feed", [entry(f"{n}", text=prose(n + 1), source=f"https://f{n}.example/feed")])
             for n in range(5)]
    try:
        results = asyncio.run(while_busy(committer, db, feeds))
        assert len(commits) == 1
        assert [[r.outcome.status for r in feed] for feed in results] == [["new"]] * 5
        assert store.count("items") == 5 and store.count("feeds") == 5

        lone = asyncio.run(committer.commit("https://f0.example/feed", [entry("9", text=prose(9))]))
        assert [r.outcome.status for r in lone] == ["new"] and len(commits) == 2  # stored at once, alone
    finally:
        db.shutdown()
        store.engine.dispose()


def test_a_feed_that_fails_to_store_fails_alone_in_its_group(db_url: str) -> None:
    committer, db, store, commits = committer_on(db_url)
    feeds = [(f"https://f{n}.example/feed", [entry(f"{n}", text=prose(n + 1), source=f"https://f{n}.example/feed")])
             for n in range(4)]
    good = feeds[2][1][0]
    broken = Prepared(good.item, [Hit("ohchr", "x", "text", 0, 1, None)], good.fingerprint, None, good.alerts)
    feeds[2] = (feeds[2][0], [broken])  # matched=None violates NOT NULL
    try:
        results = asyncio.run(while_busy(committer, db, feeds))
        assert isinstance(results[2], IntegrityError) and "matched" in str(results[2])  # the NOT NULL column
        assert [[r.outcome.status for r in results[n]] for n in (0, 1, 3)] == [["new"]] * 3
        assert len(commits) == 3  # the group rolled back, then each feed alone
        assert store.count("items") == 3 and store.count("hits") == 3
    finally:
        db.shutdown()
        store.engine.dispose()


def test_a_cycle_stores_finished_feeds_together_and_a_feed_failing_to_store_fails_alone(
    server: FeedServer, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [server.add_feed(f"/f{n}.xml", feed_xml(seed_entries())) for n in range(8)]
    config = write_config(tmp_path, db_url, urls)
    groups: list[int] = []
    store_waiting, ingest_many = _Committer._store_waiting, Store.ingest_many

    def once_all_are_waiting(self: _Committer, group: list) -> list:
        deadline = time.monotonic() + 10  # the db thread is busy until every feed has been parsed
        while not groups and len(self._waiting) < len(urls) and time.monotonic() < deadline:
            time.sleep(0.01)
        return store_waiting(self, group)

    def failing(self: Store, batches: list, **kwargs: object) -> list:
        groups.append(len(batches))
        if any(source == urls[3] for source, _ in batches):
            raise RuntimeError("disk on fire")
        return ingest_many(self, batches, **kwargs)

    monkeypatch.setattr(_Committer, "_store_waiting", once_all_are_waiting)
    monkeypatch.setattr(Store, "ingest_many", failing)
    report = cycle(config)

    assert groups[0] == len(urls) and groups[1:] == [1] * len(urls)  # together, then each alone
    by_url = {p.url: p for p in report.polls}
    assert by_url[urls[3]].result == "error" and "disk on fire" in by_url[urls[3]].error
    assert [by_url[u].result for u in urls if u != urls[3]] == ["new"] * 7
    app = App(load_config(config))
    states = {f.url: f for f in FeedStore(app.engine).all()}
    app.engine.dispose()
    assert [states[u].consecutive_errors for u in urls] == [0, 0, 0, 1, 0, 0, 0, 0]
    assert len(stored_items(db_url, config)) == 2 * 7
