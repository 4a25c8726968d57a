"""The subscriber job on its own, in this process, against the local hub: what it
sends, and the failures the daemon tests do not reach (a hub that accepts and
never verifies, a hub that refuses, a feed that stops naming its hub)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from monitor.ingest.http import Fetcher
from monitor.states import SubscriptionState
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.models import Subscription
from monitor.store.websub import SubscriptionStore
from monitor.websub import protocol
from monitor.websub.subscriber import Subscriber
from tests.ingest.test_http import settings
from tests.websub_hub import LocalHub

pytestmark = pytest.mark.anyio
FEED = "https://mfa.example/rss.xml"
NOWHERE = "http://127.0.0.1:9"  # nothing listens: the hub's verification cannot reach us


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Job:
    subscriber: Subscriber
    store: SubscriptionStore
    feeds: FeedStore
    feed_id: int

    def view(self):
        return self.store.views().get(self.feed_id)


@pytest.fixture
async def job(db_url: str) -> AsyncIterator[Job]:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    feeds, store = FeedStore(engine), SubscriptionStore(engine)
    feeds.sync([ListedFeed(FEED, None, "test")])
    db = ThreadPoolExecutor(max_workers=1)
    async with Fetcher(settings()) as fetcher:
        subscriber = Subscriber(store, fetcher, db, public_url=NOWHERE + "/press/", lease_s=3600, owner="me")
        yield Job(subscriber, store, feeds, feeds.all()[0].id)
        await subscriber.close()
    db.shutdown()
    engine.dispose()


async def test_the_request_names_our_callback_topic_lease_and_secret(job: Job) -> None:
    with LocalHub() as hub:
        await job.subscriber.discovered(job.feed_id, FEED, hub.url, "https://mfa.example/self")
        await job.subscriber.discovered(job.feed_id, FEED, hub.url, "https://mfa.example/self")  # no change
        assert await job.subscriber.run_once() == 1
        (request,) = hub.requests
    token = request.callback.removeprefix(NOWHERE + "/press/websub/")
    assert protocol.TOKEN.fullmatch(token)
    assert request.fields == {"hub.callback": request.callback, "hub.mode": "subscribe",
                              "hub.topic": "https://mfa.example/self", "hub.lease_seconds": "3600",
                              "hub.secret": job.store.callback(token).secret}  # type: ignore[union-attr]
    assert job.view().state == SubscriptionState.REQUESTED
    assert await job.subscriber.run_once() == 0  # waiting for the verification: nothing due


async def test_a_hub_that_accepts_and_never_verifies_has_failed_after_a_while(job: Job) -> None:
    with LocalHub() as hub:
        await job.subscriber.discovered(job.feed_id, FEED, hub.url, None)
        await job.subscriber.run_once()
        hub.wait(lambda h: h.verifications)  # it tried our callback, which is not there
    with job.store.engine.begin() as conn:  # VERIFY_WITHIN_S later
        conn.execute(update(Subscription).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert await job.subscriber.run_once() == 1
    view = job.view()
    assert view.state == SubscriptionState.FAILED and "did not verify" in view.last_error


async def test_a_hub_that_refuses_has_failed_with_its_reason(job: Job) -> None:
    with LocalHub(answer=403) as hub:
        await job.subscriber.discovered(job.feed_id, FEED, hub.url, None)
        await job.subscriber.run_once()
    view = job.view()
    assert view.state == SubscriptionState.FAILED
    assert view.last_error == "HTTP 403 Forbidden: subscription refused by the test hub"


async def test_a_hub_behind_a_refused_address_is_never_asked(job: Job) -> None:
    await job.subscriber.discovered(job.feed_id, FEED, "http://169.254.169.254/hub", None)
    await job.subscriber.run_once()
    view = job.view()
    assert view.state == SubscriptionState.FAILED and "169.254.169.254" in view.last_error


async def test_a_feed_that_stops_naming_its_hub_is_unsubscribed_here(job: Job) -> None:
    await job.subscriber.discovered(job.feed_id, FEED, "https://hub.example/", None)
    assert job.view() is not None
    await job.subscriber.discovered(job.feed_id, FEED, None, None)
    assert job.view() is None
