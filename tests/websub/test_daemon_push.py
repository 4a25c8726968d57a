"""WebSub with every part real: `monitor run` in a subprocess, a feed server, a local
hub (tests/websub_hub.py), the reverse proxy that `web.public_url` names, a
webhook receiver for the alerts, and the database on each backend.

The daemon binds port 0 and says where in its `web_listening` log line; the
proxy was bound before the daemon started (so the public URL is known and no
port is guessed) and forwards there once told. Nothing here measures time:
every wait is for a state, with a generous timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from monitor.states import SubscriptionState
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore
from monitor.store.models import Alert, StoredItem
from monitor.store.websub import SubscriptionStore
from tests.alerts.conftest import WHSEC
from tests.alerts.receiver import WebhookReceiver
from tests.conftest import RULES
from tests.feedserver import FeedServer, feed_xml
from tests.websub_hub import LocalHub, ReverseProxy

QUIET = {"title": "Weather in Geneva", "link": "https://press.example/weather", "guid": "weather",
         "description": "Sunny spells over the lake."}


def ilo(guid: str) -> dict[str, Any]:
    return {"title": f"ILO Governing Body opens ({guid})", "link": f"https://press.example/{guid}", "guid": guid,
            "description": "The International Labour Organization Governing Body met in Geneva.",
            "pubDate": datetime.now(UTC)}


def hub_feed(entries: list[dict[str, Any]], hub: str, topic: str) -> bytes:
    """An RSS document that names `hub` and itself (`topic`) with atom:links."""
    links = f'<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{topic}"/>'
    return (feed_xml(entries)
            .replace(b'<rss version="2.0">', b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">')
            .replace(b"<channel>", b"<channel>" + links.encode(), 1))


def write_config(tmp_path: Path, db_url: str, feed: str, public_url: str, receiver: str,
                 schedule: Mapping[str, Any] | None = None) -> Path:
    sections: dict[str, dict[str, Any]] = {
        "database": {"url": db_url},
        "rules": {"paths": [str(RULES)]},
        "log": {"level": "INFO"},
        "fetch": {"allowed_networks": ["127.0.0.1/32"], "deadline_s": 3, "read_timeout_s": 2},
        "schedule": {"parse_workers": 0, "tick_s": 0.2, **(schedule or {})},
        "web": {"port": 0, "public_url": public_url},
        "alerts": {"dispatch_tick_s": 60},  # an alert goes out at once only if the push woke the dispatcher
    }
    lines = [f'state_dir = {json.dumps(str(tmp_path / "state"))}']
    for name, values in sections.items():
        lines += [f"[{name}]", *(f"{key} = {json.dumps(value)}" for key, value in values.items())]
    lines += ["[channels.ops]", 'type = "webhook"', f"url = {json.dumps(receiver)}",
              'secret = { env = "TEST_WHSEC" }', "timeout_s = 2",
              "[[routes]]", 'rules = ["*"]', 'channel = "ops"', f"[[feeds]]\nurl = {json.dumps(feed)}"]
    path = tmp_path / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Daemon:
    """`monitor run`, its stderr collected line by line."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            env={**os.environ, "TEST_WHSEC": WHSEC}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def log_match(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        return wait_for(lambda: next((m for line in list(self.lines) if (m := re.search(pattern, line))), None),
                        timeout, lambda: "\n".join(self.lines[-30:]))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        finally:
            self._reader.join(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(produce: Callable[[], Any], timeout: float = 30.0, context: Callable[[], str] = lambda: "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := produce()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s\n{context()}")
        time.sleep(0.05)
    return value


def cli(config: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TEST_WHSEC": WHSEC})
    assert done.returncode == 0, done.stderr
    return done.stdout


class World:
    """Everything a test needs, started and stopped together."""

    def __init__(self, tmp_path: Path, db_url: str, hub: LocalHub, schedule: Mapping[str, Any] | None = None,
                 entries: list[dict[str, Any]] | None = None) -> None:
        self.hub = hub
        self.feeds = FeedServer().start()
        self.proxy = ReverseProxy().__enter__()
        self.receiver = WebhookReceiver(secret=WHSEC).__enter__()
        self.entries = entries or [QUIET]
        self.url = self.feeds.url("/press.xml")
        self.topic = self.url.replace("/press.xml", "/press-topic")  # rel="self" differs from the URL polled
        self.feeds.add_feed("/press.xml", self.document(self.entries))
        self.config = write_config(tmp_path, db_url, self.url, self.proxy.url, self.receiver.url, schedule)
        self.engine = make_engine(db_url)
        self.daemon = Daemon(self.config)
        self.proxy.forward_to(self.daemon.log_match(r"event=web_listening .*url=(\S+)").group(1))

    def document(self, entries: list[dict[str, Any]]) -> bytes:
        return hub_feed(entries, self.hub.url, self.topic)

    def publish_on_feed(self, *entries: dict[str, Any]) -> None:
        self.entries = [*entries, *self.entries]
        self.feeds.publish("/press.xml", self.document(self.entries))

    def polls(self) -> int:
        return self.feeds.requests("/press.xml")

    def stored(self, guid: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(StoredItem).where(StoredItem.guid == guid)).scalar()

    def alerts(self, guid: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Alert).join(StoredItem, Alert.item_id == StoredItem.id)
                                .where(StoredItem.guid == guid)).scalar()

    def delivered(self, guid: str) -> int:
        return sum(1 for r in list(self.receiver.received) if guid.encode() in r.body)

    def subscription(self):
        return next(iter(SubscriptionStore(self.engine).views().values()), None)

    def feed(self):
        return FeedStore(self.engine).all()[0]

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.proxy.url}{path}", timeout=10)

    def close(self) -> None:
        self.daemon.kill()
        self.engine.dispose()
        self.receiver.__exit__(None, None, None)
        self.proxy.__exit__(None, None, None)
        self.feeds.stop()
        self.hub.__exit__(None, None, None)


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(hub: LocalHub, **kwargs: Any) -> World:
        made.append(World(tmp_path, db_url, hub.__enter__(), **kwargs))
        return made[-1]

    yield make
    for w in made:
        w.close()


def test_a_push_is_stored_and_alerted_at_once_and_a_poll_of_the_same_entry_adds_nothing(world) -> None:
    w = world(LocalHub())
    subscribed = w.hub.wait_subscribed(w.topic)
    (request,) = w.hub.requests
    assert request.fields["hub.lease_seconds"] == "86400" and request.callback.startswith(w.proxy.url + "/websub/")
    assert subscribed.secret and len(subscribed.secret.encode()) < 200
    view = w.subscription()
    assert view.state == SubscriptionState.VERIFIED and view.topic == w.topic
    assert w.feed().push_until == view.expires_at  # polling slows to the fallback rate
    polls = w.polls()

    pushed = w.document([ilo("ilo-push"), QUIET])
    assert w.hub.publish(w.topic, pushed, sign="bad") == [202]  # dropped, and told nothing
    assert w.hub.publish(w.topic, pushed, sign="none") == [202]
    assert w.stored("ilo-push") == 0
    wait_for(lambda: w.subscription().refused == 2)  # counted just after the answer
    assert w.hub.publish(w.topic, pushed) == [202]  # answered once stored
    assert w.stored("ilo-push") == 1
    wait_for(lambda: w.delivered("ilo-push"), 20, lambda: "\n".join(w.daemon.lines[-20:]))
    assert w.polls() == polls  # it came by push, not by a poll

    w.publish_on_feed(ilo("ilo-push"))  # the publisher's feed carries it too, and is polled now
    before = w.feed().last_success_at
    FeedStore(w.engine).make_all_due()
    wait_for(lambda: w.feed().last_success_at != before, 20)
    assert w.polls() == polls + 1
    assert (w.stored("ilo-push"), w.alerts("ilo-push")) == (1, 1)

    metrics = w.get("/metrics").text
    for result in ("accepted", "unsigned", "bad-signature"):
        assert f'monitor_websub_pushes_total{{result="{result}"}} 1.0' in metrics
    shown = cli(w.config, "feeds")
    assert "push: verified until" in shown and "(1 pushed, 2 refused)" in shown, shown
    assert "push: verified until" in w.get("/feeds").text
    assert w.daemon.stop() == 0
    assert w.delivered("ilo-push") == 1


def test_a_short_lease_is_renewed_and_when_the_hub_is_gone_polling_finds_the_item(world) -> None:
    w = world(LocalHub(lease_s=2), schedule={"latency_target_s": 1, "min_interval_s": 1, "websub_fallback_s": 3600})
    first = w.hub.wait_subscribed(w.topic)
    w.hub.wait(lambda hub: any(s.renewals >= 2 for s in hub.subscribed(w.topic)), timeout=30)
    polls = w.polls()  # from here on the feed is pushed: polled hourly
    renewed = w.hub.wait(lambda hub: next((s for s in hub.subscribed(w.topic) if s.renewals >= 3), None), 30)
    assert renewed.callback == first.callback and renewed.secret == first.secret  # the same subscription
    assert all(r.fields["hub.secret"] == first.secret for r in w.hub.requests)
    assert w.polls() == polls
    assert w.feed().push_until > datetime.now(UTC)

    w.hub.gone()
    w.publish_on_feed(ilo("ilo-polled"))
    failed = wait_for(lambda: (s := w.subscription()).state == SubscriptionState.FAILED and s, 30,
                      lambda: "\n".join(w.daemon.lines[-40:]) + f"\n{w.subscription()}")
    assert "cannot connect" in failed.last_error
    wait_for(lambda: w.delivered("ilo-polled"), 30, lambda: "\n".join(w.daemon.lines[-20:]))
    assert w.stored("ilo-polled") == 1
    assert not w.feed().pushed(datetime.now(UTC))  # lapsed
    after = w.polls()
    wait_for(lambda: w.polls() >= after + 2, 30)  # polled at the latency target again
    shown = cli(w.config, "feeds")
    assert "push: hub failed: cannot connect" in shown, shown
    assert "push: hub failed" in w.get("/feeds").text
    assert w.daemon.stop() == 0


def test_a_denied_subscription_is_said_and_polling_carries_on(world) -> None:
    w = world(LocalHub(deny="topic not allowed on this hub"),
              schedule={"latency_target_s": 1, "min_interval_s": 1, "websub_fallback_s": 3600})
    denied = wait_for(lambda: (s := w.subscription()) and s.state == SubscriptionState.DENIED and s, 30)
    assert denied.last_error == "topic not allowed on this hub"
    assert w.feed().push_until is None
    polls = w.polls()
    wait_for(lambda: w.polls() >= polls + 2, 30)
    assert "push: hub denied: topic not allowed on this hub" in cli(w.config, "feeds")
    assert w.daemon.stop() == 0
