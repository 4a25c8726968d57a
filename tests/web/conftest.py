"""A database the dashboard can show, and the dashboard served for real.

`dashboard_db` fills the test's database (SQLite, and PostgreSQL when
configured) the way production does: the seeds replayed with the CLI, then,
through the pipeline and `monitor.store` APIs, a second source carrying the
same story as seed 000, a hostile feed whose titles carry `<script>`, alerts
for its item, and a failing feed recorded by `FeedStore.record_failure`.

`LiveServer` runs `monitor.web.server.serve` in a thread with its own event
loop, so tests talk HTTP to uvicorn on 127.0.0.1, exactly as a browser would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert, select, update
from starlette.applications import Starlette

from monitor.cli import main
from monitor.dedupe import fingerprint
from monitor.ingest import load_fixture
from monitor.items import AlertRequest, Item, Prepared
from monitor.pipeline import Pipeline
from monitor.rules import compile_rules, load_rules
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.models import Alert, DeliveryAttempt, StoredItem
from monitor.store.repository import Store
from monitor.web.dashboard import create_app
from monitor.web.server import bind, serve, url_of
from monitor.web.settings import WebSettings
from tests.conftest import RULES, SEEDS

SEED_000 = next(SEEDS.glob("000_*.txt"))
SEED_004 = next(SEEDS.glob("004_*.txt"))
WIRE_FEED = "https://wire.example/feed.xml"
EVIL_FEED = "https://evil.example/feed.xml"
BROKEN_FEED = "https://broken.example/rss"
EVIL_FEED_TITLE = '<script>alert("feed")</script>Evil & Co'
EVIL_ITEM_TITLE = '<script>alert("item")</script><img src=x onerror=alert(1)> OHCHR statement'
TOKEN = "s3cret-token-for-tests"
TOKEN_ENV = "MONITOR_TEST_WEB_TOKEN"


@dataclass(frozen=True)
class DashboardDb:
    engine: Engine
    seed_000: int  # item ids
    seed_004: int
    wire_copy: int  # seed 000's story from a second source
    evil: int
    evil_feed: int  # feed ids
    broken_feed: int


class FakeProbe:
    """A scheduler whose last tick is whatever the test says."""

    def __init__(self, age_s: float | None = 1.0, max_tick_age_s: float = 60.0) -> None:
        self.age_s = age_s
        self.max_tick_age_s = max_tick_age_s

    def tick_age_s(self) -> float | None:
        return self.age_s


def replay(config: Path, *paths: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config), "replay", *map(str, paths)])
    assert result.exit_code == 0, result.output


def item_id(engine: Engine, **where: object) -> int:
    with engine.connect() as conn:
        query = select(StoredItem.id)
        for name, value in where.items():
            query = query.where(getattr(StoredItem, name) == value)
        return int(conn.execute(query).scalar_one())


WIRE_OWN_TITLE = "Wire: world news (RSS)"  # the wire feed's own title; the operator calls it "Wire service"


def fill(config: Path, db_url: str) -> DashboardDb:
    replay(config, SEEDS)
    engine = make_engine(db_url)
    seed_000 = item_id(engine, path=str(SEED_000))
    seed_004 = item_id(engine, path=str(SEED_004))

    feeds = FeedStore(engine)
    feeds.sync([
        ListedFeed(WIRE_FEED, "Wire service", "test"),
        ListedFeed(EVIL_FEED, EVIL_FEED_TITLE, "test"),
        ListedFeed(BROKEN_FEED, "Broken ministry feed", "test"),
    ])
    now = datetime.now(UTC)
    for feed in feeds.claim_due("test", timedelta(minutes=5), 10):
        if feed.url == BROKEN_FEED:
            for _ in range(3):  # three failures in a row; the lease is re-taken each time
                feeds.record_failure(feed.id, "test", now=now, error="HTTP 503 Service Unavailable",
                                     next_poll_at=now + timedelta(minutes=20))
                feeds.claim_due("test", timedelta(minutes=5), 10, due_by=now + timedelta(hours=1))
            feeds.release("test")
        else:
            feeds.record_success(feed.id, "test", now=now, next_poll_at=now + timedelta(minutes=30),
                                 interval_s=1800, etag=None, last_modified=None,
                                 document_title=WIRE_OWN_TITLE if feed.url == WIRE_FEED else None)

    matcher = compile_rules(load_rules([RULES]))
    copy = load_fixture(SEED_000, SEED_000.read_bytes())[0].replace(
        source=WIRE_FEED, guid="wire-000", url="https://wire.example/stories/000", origin="Wire"
    )
    pipeline = Pipeline(matcher, Store(engine))
    pipeline.commit([(WIRE_FEED, pipeline.prepare([copy]))])

    # Stored as is, past normalization (which would strip the tags): whatever
    # reaches the database, the pages must show it as text.
    evil = Item(source=EVIL_FEED, guid="evil-1", title=EVIL_ITEM_TITLE, url="javascript:alert(1)",
                text='The OHCHR said <b>this</b> & "more".\n\n<script>alert("text")</script>')
    Store(engine).ingest(EVIL_FEED, [
        Prepared(evil, matcher.scan(evil), fingerprint(evil), None,
                   (AlertRequest("analysts", ("ohchr",)), AlertRequest("ops-hook", ("ohchr",)))),
    ])
    evil_id = item_id(engine, guid="evil-1")
    with engine.begin() as conn:  # one alert delivered after a failed try
        hook = conn.execute(
            select(Alert.id).where(Alert.item_id == evil_id, Alert.channel == "ops-hook")
        ).scalar_one()
        conn.execute(update(Alert).where(Alert.id == hook).values(state="sent", attempts=2, sent_at=now))
        conn.execute(insert(DeliveryAttempt), [
            {"alert_id": hook, "at": now - timedelta(seconds=5), "ok": False, "status": "500",
             "error": "<b>server</b> said no"},
            {"alert_id": hook, "at": now, "ok": True, "status": "200", "error": None},
        ])
    by_url = {f.url: f.id for f in feeds.all()}
    return DashboardDb(
        engine, seed_000, seed_004, item_id(engine, guid="wire-000"), evil_id,
        by_url[EVIL_FEED], by_url[BROKEN_FEED],
    )


@pytest.fixture
def dashboard_db(config_file: Path, db_url: str) -> Iterator[DashboardDb]:
    db = fill(config_file, db_url)
    yield db
    db.engine.dispose()


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> WebSettings:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return WebSettings.model_validate({"port": 0, "token": {"env": TOKEN_ENV}})


class LiveServer:
    """`serve()` on an ephemeral 127.0.0.1 port, in a thread with its own loop."""

    def __init__(self, app: Starlette, settings: WebSettings | None = None) -> None:
        self.app = app
        self.settings = settings or WebSettings(port=0)
        self.sock = bind(self.settings.model_copy(update={"port": 0}))
        self.url = url_of(self.sock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await serve(self.app, self.settings, self._stop, sock=self.sock)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by __exit__
            self.error = exc
            self._ready.set()

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(10), "server thread did not start"
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    def stop(self, timeout: float = 10) -> None:
        """Set the stop event and wait for serve() to return."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "serve() did not return after stop was set"

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._thread.is_alive():
            self.stop()
        if self.error is not None and exc is None:
            raise self.error


@pytest.fixture
def served(dashboard_db: DashboardDb, token_env: WebSettings) -> Iterator[tuple[LiveServer, DashboardDb]]:
    """The dashboard over `dashboard_db`, with a token configured, on a real socket."""
    app = create_app(dashboard_db.engine, token_env, health=FakeProbe())
    with LiveServer(app, token_env) as server:
        yield server, dashboard_db
