"""The callback, `/websub/<token>`, served by uvicorn over a real database: what it
answers a hub, what it refuses, and that the answers tell a stranger nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitor import metrics
from monitor.states import SubscriptionState
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.websub import SubscriptionStore
from monitor.web.dashboard import create_app
from monitor.web.settings import WebSettings
from monitor.web.websub import PushHooks
from monitor.websub import protocol
from tests.alerts.conftest import wait_for
from tests.web.conftest import FakeProbe, LiveServer
from tests.websub_hub import deliver

FEED = "https://mfa.example/rss.xml"
TOPIC = "https://mfa.example/rss"
BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@dataclass
class Received:
    calls: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, feed_url: str, body: bytes, headers: Mapping[str, str]) -> int:
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("database is locked")
        self.calls.append((feed_url, body, dict(headers)))
        return 1


@dataclass
class Callback:
    server: LiveServer
    subs: SubscriptionStore
    feeds: FeedStore
    feed_id: int
    token: str
    secret: str
    received: Received

    @property
    def url(self) -> str:
        return f"{self.server.url}/websub/{self.token}"

    def get(self, token: str | None = None, **params: str) -> httpx.Response:
        with self.server.client() as client:
            return client.get(f"/websub/{token or self.token}", params=params)

    def push(self, sign: str = "good", body: bytes = BODY, token: str | None = None, algorithm: str = "sha256",
             headers: dict[str, str] | None = None) -> int:
        url = f"{self.server.url}/websub/{token or self.token}"
        return deliver(url, body, secret=self.secret, sign=sign, algorithm=algorithm,
                       headers={"Content-Type": "application/rss+xml", **(headers or {})})

    def view(self):
        return self.subs.views()[self.feed_id]


@pytest.fixture
def callback(db_url: str) -> Iterator[Callback]:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    feeds, subs = FeedStore(engine), SubscriptionStore(engine)
    feeds.sync([ListedFeed(FEED, None, "test")])
    feed_id = feeds.all()[0].id
    token, secret = protocol.new_token(), protocol.new_secret()
    now = datetime.now(UTC)
    subs.discovered(feed_id, "https://hub.example/", TOPIC, token=token, secret=secret, now=now)
    (due,) = subs.claim_due("test", timedelta(minutes=2), 1, now=now)
    subs.requesting(due.id, "test", now=now)
    received = Received()
    settings = WebSettings(port=0, public_url="https://monitor.example/press")
    app = create_app(engine, settings, health=FakeProbe(),
                     websub=PushHooks(received, lease_s=86_400, max_body_bytes=64 * 1024))
    with LiveServer(app, settings) as server:
        yield Callback(server, subs, feeds, feed_id, token, secret, received)
    engine.dispose()


def test_the_challenge_is_echoed_for_our_subscription_and_the_lease_recorded(callback: Callback) -> None:
    answer = callback.get(**{"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "c-123",
                             "hub.lease_seconds": "7200"})
    assert (answer.status_code, answer.text) == (200, "c-123")
    view = callback.view()
    assert view.state == SubscriptionState.VERIFIED
    assert view.expires_at is not None
    assert timedelta(seconds=7190) < view.expires_at - datetime.now(UTC) <= timedelta(seconds=7200)
    assert callback.feeds.all()[0].push_until == view.expires_at


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.topic": "https://mfa.example/other", "hub.challenge": "c"},  # not our topic
    {"hub.mode": "unsubscribe", "hub.topic": TOPIC, "hub.challenge": "c"},  # we never asked for that
    {"hub.mode": "subscribe", "hub.topic": TOPIC},  # no challenge
    {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "c" * 2000},
    {"hub.mode": "publish", "hub.topic": TOPIC, "hub.challenge": "c"},
    {},
])
def test_anything_else_is_the_same_404_as_an_unknown_token(callback: Callback, params: dict[str, str]) -> None:
    answer = callback.get(**params)
    unknown = callback.get(token=protocol.new_token(), **{"hub.mode": "subscribe", "hub.topic": TOPIC,
                                                          "hub.challenge": "c"})
    malformed = callback.get(token="not-a-token", **params)
    for response in (answer, unknown, malformed):
        assert (response.status_code, response.text) == (404, "Not Found")
    assert callback.view().state == SubscriptionState.REQUESTED


def test_a_denial_is_recorded_and_answered_like_any_other(callback: Callback) -> None:
    assert callback.get(token=protocol.new_token(), **{"hub.mode": "denied", "hub.topic": TOPIC}).status_code == 200
    assert callback.view().state == SubscriptionState.REQUESTED
    answer = callback.get(**{"hub.mode": "denied", "hub.topic": TOPIC, "hub.reason": "topic\nnot allowed here"})
    assert answer.status_code == 200
    view = callback.view()
    assert (view.state, view.last_error) == (SubscriptionState.DENIED, "topic not allowed here")


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_a_signed_delivery_goes_to_the_pipeline(callback: Callback, algorithm: str) -> None:
    assert callback.push(algorithm=algorithm) == 202
    assert callback.received.calls == [(FEED, BODY, {"content-type": "application/rss+xml"})]
    assert (callback.view().pushes, callback.view().refused) == (1, 0)


@pytest.mark.parametrize(("sign", "result"), [("none", "unsigned"), ("bad", "bad-signature"),
                                              ("garbled", "bad-signature")])
def test_an_unsigned_or_badly_signed_delivery_is_dropped_counted_and_still_answered_2xx(
    callback: Callback, sign: str, result: str
) -> None:
    before = metrics.WEBSUB_PUSHES.labels(result=result)._value.get()
    assert callback.push(sign=sign) == 202
    assert callback.received.calls == []
    wait_for(lambda: callback.view().refused == 1)  # counted after the answer
    assert callback.view().pushes == 0
    assert metrics.WEBSUB_PUSHES.labels(result=result)._value.get() == before + 1
    with callback.server.client() as client:
        assert f'monitor_websub_pushes_total{{result="{result}"}}' in client.get("/metrics").text


def test_an_unknown_token_gets_the_same_answer_and_nothing_happens(callback: Callback) -> None:
    before = metrics.WEBSUB_PUSHES.labels(result="unknown")._value.get()
    assert callback.push(token=protocol.new_token()) == 202
    assert callback.push(token="../../matches") == 404  # not even a token: no route
    assert callback.received.calls == [] and callback.view().refused == 0
    assert metrics.WEBSUB_PUSHES.labels(result="unknown")._value.get() == before + 1


def test_a_cross_site_post_needs_no_dashboard_token_but_cannot_sign(callback: Callback) -> None:
    """The callback is exempt from the dashboard's token (the CSRF defence): a hub has no
    such token. What protects it is the signature, which no other site can make."""
    headers = {"Origin": "https://evil.example", "Referer": "https://evil.example/x",
               "Content-Type": "application/x-www-form-urlencoded"}
    with callback.server.client() as client:
        forged = client.post(f"/websub/{callback.token}", content=b"token=x&a=b", headers=headers)
    assert forged.status_code == 202 and callback.received.calls == []
    assert callback.push(headers={"Origin": "https://evil.example"}) == 202  # signed: taken
    assert len(callback.received.calls) == 1


def test_a_body_over_the_cap_is_refused_before_anything_else(callback: Callback) -> None:
    assert callback.push(body=b"x" * (64 * 1024 + 1)) == 413
    assert callback.received.calls == [] and callback.view().refused == 0


def test_a_delivery_the_daemon_could_not_store_is_asked_again(callback: Callback) -> None:
    callback.received.fail = True
    assert callback.push() == 503  # the hub delivers again


def test_a_delivery_for_a_removed_feed_is_ignored(callback: Callback) -> None:
    callback.feeds.sync([])
    assert callback.push() == 202
    assert callback.received.calls == []


def test_what_a_hub_says_is_shown_as_text_on_the_feeds_page(callback: Callback) -> None:
    callback.get(**{"hub.mode": "denied", "hub.topic": TOPIC, "hub.reason": '<script>alert("hub")</script>'})
    with callback.server.client() as client:
        page = client.get("/feeds").text
    assert 'push: hub denied: &lt;script&gt;alert(&#34;hub&#34;)&lt;/script&gt;' in page
    assert "<script>" not in page
