"""When the daemon polls a source next, seen from outside: real feeds on a local
server, the next poll read from the database and from `monitor feeds`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.app import App
from monitor.config import load_config
from monitor.store.feeds import FeedState, FeedStore
from tests.alerts.cli import invoke
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import cycle, write_config

TARGET = 300  # the shipped latency_target_s


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def dated(per_day: float, n: int = 12) -> bytes:
    now = datetime.now(UTC)
    return feed_xml({"title": f"Release {i}", "guid": f"r{i}", "link": f"https://ministry.example/{i}",
                     "description": "The ministry released a statement.", "pubDate": now - timedelta(days=i / per_day)}
                    for i in range(n))


def states(config: Path) -> dict[str, FeedState]:
    app = App(load_config(config))
    found = {f.url: f for f in FeedStore(app.engine).all()}
    app.engine.dispose()
    return found


def test_five_publishing_rates_without_caching_headers_are_all_polled_within_the_target(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """24, 8, 3 and 1 a day and 1 a week: before, the next poll came 31 min to 5.9 h later."""
    urls = [server.add_feed(f"/rate{n}.xml", dated(per_day)) for n, per_day in enumerate([24, 8, 3, 1, 1 / 7])]
    config = write_config(tmp_path, db_url, urls, schedule={"min_interval_s": 60})
    started = datetime.now(UTC)
    assert [p.result for p in cycle(config).polls] == ["new"] * 5
    for url, state in states(config).items():
        assert state.next_poll_at is not None
        assert state.next_poll_at - started <= timedelta(seconds=TARGET + 5), url
        assert state.slower_because is None


def test_cache_control_and_ttl_still_slow_a_source_and_monitor_feeds_says_why(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    cached = server.add_feed("/cached.xml", dated(3), cache_control="max-age=7200")
    ttl = server.add_feed("/ttl.xml", dated(3).replace(b"<channel>", b"<channel><ttl>90</ttl>"))
    config = write_config(tmp_path, db_url, [cached, ttl])
    started = datetime.now(UTC)
    cycle(config)

    found = states(config)
    assert found[cached].next_poll_at - started >= timedelta(seconds=7190)
    assert found[cached].slower_because == "server asked (Cache-Control/Expires: 7200 s)"
    assert found[ttl].next_poll_at - started >= timedelta(minutes=89)
    assert found[ttl].slower_because == "server asked (RSS ttl: 5400 s)"
    code, out, _ = invoke(config, "feeds")
    assert code == 0 and "polled less often: server asked (RSS ttl: 5400 s)" in out


def test_the_operators_interval_per_source_slows_only_that_source(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    slow, usual = server.add_feed("/slow.xml", dated(1)), server.add_feed("/usual.xml", dated(1))
    config = write_config(tmp_path, db_url, [usual])
    config.write_text(config.read_text() + f'[[feeds]]\nurl = "{slow}"\ninterval_s = 3600\n', encoding="utf-8")
    started = datetime.now(UTC)
    cycle(config)
    found = states(config)
    assert found[slow].next_poll_at - started >= timedelta(minutes=53)
    assert found[slow].slower_because == "operator's interval (3600 s)"
    assert found[usual].next_poll_at - started <= timedelta(seconds=TARGET + 5)
    code, out, _ = invoke(config, "feeds", "export")
    assert 'interval_s="3600"' in out


def test_a_live_poll_records_each_items_delay_from_publication_and_a_first_poll_does_not(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    from sqlalchemy import select

    from monitor.store.models import StoredItem
    from monitor.store.queries import DashboardQueries

    path = "/live.xml"
    url = server.add_feed(path, dated(3))
    config = write_config(tmp_path, db_url, [url])
    cycle(config)  # the backlog: its dates say nothing about latency
    fresh = {"title": "ILO statement", "guid": "fresh", "link": "https://ministry.example/fresh",
             "description": "The ILO said.", "pubDate": datetime.now(UTC) - timedelta(minutes=3)}
    server.publish(path, feed_xml([fresh]))
    cycle(config, all_feeds=True)

    app = App(load_config(config))
    with app.engine.connect() as conn:
        delays = dict(conn.execute(select(StoredItem.guid, StoredItem.delay_s)).all())
    (feed_delay,) = DashboardQueries(app.engine).delays().values()
    app.engine.dispose()
    assert all(delay is None for guid, delay in delays.items() if guid != "fresh")
    assert 179 <= delays["fresh"] < 3600  # published 3 min before the poll (pubDate has whole seconds)
    assert feed_delay.items == 1 and feed_delay.median_s == delays["fresh"]


def test_economy_learns_a_sources_hours_from_its_backlog_and_polls_less_outside_them(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """Twenty-four releases, all at the hour of the week twelve hours from now: with
    economy on, the next poll waits for the ceiling, and `monitor feeds` names the hours."""
    now = datetime.now(UTC)
    other_hour = (now + timedelta(hours=12)).replace(minute=30, second=0, microsecond=0)  # 20-30 min: one hour
    releases = [{"title": f"Release {i}", "guid": f"r{i}", "description": "The ministry released a statement.",
                 "pubDate": other_hour - timedelta(weeks=1 + i // 3, minutes=5 * (i % 3))} for i in range(24)]
    office, usual = server.add_feed("/office.xml", feed_xml(releases)), server.add_feed("/usual.xml", dated(24))
    config = write_config(tmp_path, db_url, [office, usual], schedule={"economy": True})
    started = datetime.now(UTC)
    cycle(config)

    found = states(config)
    assert found[office].slower_because == "economy: no publication seen at this hour"
    assert found[office].next_poll_at - started >= timedelta(seconds=3590)
    assert found[usual].next_poll_at - started <= timedelta(seconds=TARGET + 5)  # 12 releases: no pattern yet
    code, out, _ = invoke(config, "feeds")
    assert code == 0 and f"publishes most at {other_hour.strftime('%a %H')}h" in out
