"""Claims, leases and due times follow the database's clock, not each instance's.

An instance whose clock runs ahead by more than a lease (here an injected
offset on this process's `datetime.now`) must neither take a lease another
instance holds nor poll a feed before it is due, on PostgreSQL where several
machines share the database (and on SQLite, through the same code).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import monitor.alerts.dispatcher
import monitor.pipeline.polling
import monitor.store.alerts
import monitor.store.feeds
from monitor.store.alerts import Outbox
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore
from tests.alerts.cli import invoke
from tests.alerts.conftest import WHSEC
from tests.alerts.conftest import write_config as alerts_config
from tests.alerts.receiver import WebhookReceiver
from tests.conftest import SEEDS
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import cycle, seed_entries, write_config

LEASE = timedelta(minutes=5)
AHEAD = LEASE + timedelta(minutes=5)


class _Skewed(datetime):
    offset = timedelta(0)

    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
        return datetime.now(tz) + cls.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Skewed]]:
    """This process's clock as the stores, the poller and the dispatcher read it."""
    _Skewed.offset = timedelta(0)
    for module in (monitor.store.feeds, monitor.store.alerts, monitor.pipeline.polling, monitor.alerts.dispatcher):
        monkeypatch.setattr(module, "datetime", _Skewed)
    yield _Skewed
    _Skewed.offset = timedelta(0)


def test_an_instance_ahead_by_more_than_a_lease_polls_nothing_held_or_not_due(
    clock: type[_Skewed], tmp_path: Path, db_url: str
) -> None:
    with FeedServer() as server:
        held = server.add_feed("/held.xml", feed_xml(seed_entries()))
        polled = server.add_feed("/polled.xml", feed_xml(seed_entries()[:1]))
        config = write_config(tmp_path, db_url, [polled])
        cycle(config)  # polled now, due again in a minute or so
        assert server.requests("/polled.xml") == 1
        config = write_config(tmp_path, db_url, [polled, held])
        engine = make_engine(db_url)
        try:
            from monitor.app import App, prepare_database
            from monitor.config import load_config

            prepare_database(App(load_config(config)))
            (claimed,) = FeedStore(engine).claim_due("instance-a", LEASE, 10)  # a holds it, mid-poll
            assert claimed.url == held

            clock.offset = AHEAD  # instance b's clock runs ahead by more than a lease
            report = cycle(config)
        finally:
            engine.dispose()

        assert report.polls == []
        assert server.requests("/held.xml") == 0 and server.requests("/polled.xml") == 1


def test_an_instance_ahead_by_more_than_a_lease_cannot_take_a_leased_alert(
    clock: type[_Skewed], tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WHSEC", WHSEC)
    with WebhookReceiver(secret=WHSEC) as rx:
        config = alerts_config(
            tmp_path, db_url, routes=[{"rules": ["*"], "channel": "ops"}],
            channels={"ops": {"type": "webhook", "url": rx.url, "secret": {"env": "TEST_WHSEC"}, "timeout_s": 2}})
        assert invoke(config, "replay", str(next(SEEDS.glob("004_*.txt"))))[0] == 0
        engine = make_engine(db_url)
        try:
            assert len(Outbox(engine).claim_due("instance-a", LEASE, 10, channels=["ops"])) == 1  # a is delivering
        finally:
            engine.dispose()

        clock.offset = AHEAD
        code, _, err = invoke(config, "alerts", "send")  # instance b
        assert code == 0 and "0 sent" in err, err
        assert rx.received == []


def test_the_database_clock_is_the_databases(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        before = datetime.now(UTC)
        now = FeedStore(engine).now()
        assert now.tzinfo is not None and before - timedelta(seconds=5) < now < datetime.now(UTC) + timedelta(seconds=5)
    finally:
        engine.dispose()
