"""The web interface over HTTP, served by uvicorn on 127.0.0.1, on both backends."""

from __future__ import annotations

import asyncio
import html
import re
import signal
import subprocess
import sys
from pathlib import Path

import feedparser
import httpx
import pytest
from sqlalchemy import select

from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.models import Alert
from monitor.web.dashboard import create_app
from monitor.web.health import TickProbe
from monitor.web.server import bind, serve
from monitor.web.settings import WebSettings
from tests.web.conftest import (
    BROKEN_FEED,
    EVIL_FEED,
    EVIL_FEED_TITLE,
    EVIL_ITEM_TITLE,
    TOKEN,
    WIRE_FEED,
    WIRE_OWN_TITLE,
    DashboardDb,
    FakeProbe,
    LiveServer,
)

Served = tuple[LiveServer, DashboardDb]


def marks(page: str) -> list[str]:
    return re.findall(r"<mark[^>]*>(.*?)</mark>", page)


def test_the_matches_page_lists_stories_with_highlighted_hits(served: Served) -> None:
    server, db = served
    with server.client() as client:
        page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.index(f'data-item-id="{db.seed_004}"') < page.text.index(f'data-item-id="{db.seed_000}"')
    assert f'data-item-id="{db.wire_copy}"' not in page.text  # a copy is shown as a source, not a match
    found = marks(page.text)
    for words in ("Universal Periodic Review", "Volker Türk", "OHCHR",
                  "Office of the United Nations High Commissioner for Human Rights"):
        assert words in found
    assert "Wire service" in page.text  # seed 000's second source
    assert "<svg" in page.text and 'data-rule="upr"' in page.text  # the 30-day chart


def test_the_rule_and_source_filters(served: Served) -> None:
    server, db = served
    with server.client() as client:
        upr = client.get("/", params={"rule": "upr"}).text
        by_source = client.get("/", params={"source": db.evil_feed}).text
        empty = client.get("/", params={"since": "2001-01-01", "until": "2001-01-02"}).text
    assert re.findall(r'data-item-id="(\d+)"', upr) == [str(db.seed_004)]
    assert re.findall(r'data-item-id="(\d+)"', by_source) == [str(db.evil)]
    assert "No matches for this filter" in empty


@pytest.mark.parametrize(
    "query", ["since=yesterday", "page=0", "source=abc", "rule=<b>", "since=2026-02-02&until=2026-01-01"]
)
def test_a_bad_filter_is_a_400_that_says_why(served: Served, query: str) -> None:
    server, _ = served
    with server.client() as client:
        page = client.get("/?" + query)
    assert page.status_code == 400
    assert 'class="errors"' in page.text and "<b>" not in page.text


def test_feed_text_is_text_everywhere(served: Served) -> None:
    server, db = served
    with server.client() as client:
        pages = [client.get(path).text for path in ("/", f"/matches/{db.evil}", "/feeds")]
    for page in pages:
        assert "<script" not in page and "<img" not in page and "<b>" not in page
        assert "javascript:" not in page.split("<body>")[0]
        assert 'href="javascript:' not in page
    listing, detail, feeds = pages
    assert html.escape(EVIL_FEED_TITLE, quote=True).replace("&#x27;", "&#39;") in listing.replace("&#34;", "&quot;")
    assert "&lt;script&gt;alert(" in listing and "&lt;script&gt;alert(" in detail
    assert "&lt;b&gt;server&lt;/b&gt; said no" in detail  # a delivery error is feed-side text too
    assert "&lt;script&gt;alert(&#34;feed&#34;)&lt;/script&gt;Evil &amp; Co" in feeds
    assert EVIL_ITEM_TITLE not in detail


def test_the_match_page_has_the_full_text_hits_sources_and_alerts(served: Served) -> None:
    server, db = served
    with server.client() as client:
        seed = client.get(f"/matches/{db.seed_004}").text
        evil = client.get(f"/matches/{db.evil}").text
        copy = client.get(f"/matches/{db.wire_copy}").text
        missing = client.get("/matches/987654")
    assert "Igor Sekreta informed Beate Andrees" in seed  # the full stored text
    assert marks(seed).count("ILO") == 3 and "International Labor Organization" in marks(seed)
    assert 'href="/?rule=upr"' in seed
    assert 'class="state state-sent"' in evil and 'class="state state-pending"' in evil
    assert "ops-hook" in evil and "analysts" in evil and "failed (500)" in evil and "ok (200)" in evil
    assert "Wire service" in copy and "https://wire.example/stories/000" in copy  # a copy opens its story
    assert missing.status_code == 404 and "987654" in missing.text


def test_the_match_page_shows_the_detected_language_and_lets_the_browser_lay_it_out(served: Served) -> None:
    server, db = served
    with server.client() as client:
        seed = client.get(f"/matches/{db.seed_004}").text
    assert "<dt>Language</dt><dd>en</dd>" in seed
    assert '<div class="fulltext" lang="en" dir="auto">' in seed  # right to left for Arabic text


def test_the_feeds_page_shows_the_failing_feed_as_failing(served: Served) -> None:
    server, db = served
    with server.client() as client:
        page = client.get("/feeds").text
    row = re.search(rf'<tr class="feed" data-health="([a-z-]+)" data-feed-id="{db.broken_feed}">(.*?)</tr>', page, re.S)
    assert row is not None and row.group(1) == "backing-off"
    assert "failing" in row.group(2) and "3 errors in a row" in row.group(2)
    assert "HTTP 503 Service Unavailable" in row.group(2)
    assert page.index(f'data-feed-id="{db.broken_feed}"') < page.index(f'data-feed-id="{db.evil_feed}"')
    assert "1 failing" in page


def test_the_feeds_page_names_a_feed_by_the_operators_title_with_its_own_beside(served: Served) -> None:
    server, _ = served
    with server.client() as client:
        page = client.get("/feeds").text
    own = f"""<small class="own-title" title="the feed's own title">({WIRE_OWN_TITLE})</small>"""
    assert f"Wire service {own}" in page


def test_marking_needs_the_token_and_suppresses_the_pending_alert(served: Served) -> None:
    server, db = served
    url = f"/matches/{db.evil}/not-relevant"
    with server.client() as client:
        assert client.post(url).status_code == 403
        assert client.post(url, data={"token": ""}).status_code == 403
        wrong = client.post(url, data={"token": TOKEN + "x"})
        assert wrong.status_code == 403 and "wrong" in wrong.text
        assert client.post(url, headers={"X-Monitor-Token": "nope"}).status_code == 403
        assert client.get(url).status_code == 405
        assert client.post(url, content=b"token=" + b"x" * 40_000,
                           headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413
        assert "mark not relevant" in client.get(f"/matches/{db.evil}").text.lower()

        done = client.post(url, data={"token": TOKEN})
        assert done.status_code == 303 and done.headers["location"] == f"/matches/{db.evil}?marked=1"
        after = client.get(done.headers["location"]).text
        assert "1 pending alert suppressed" in after and 'class="state state-suppressed"' in after
        later = client.get(f"/matches/{db.evil}").text
        assert "An analyst marked this not relevant" in later and "/not-relevant\"" not in later
        assert f'action="/matches/{db.evil}/relevant"' in later  # it can be undone

        by_header = client.post(f"/matches/{db.wire_copy}/not-relevant",
                                headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})
        assert by_header.json() == {"story_id": db.seed_000, "labelled": 2, "suppressed": 0, "sending": 0}
        assert client.post("/matches/987654/not-relevant", data={"token": TOKEN}).status_code == 404
        hidden = client.get("/", params={"hide": "1"}).text
    assert re.findall(r'data-item-id="(\d+)"', hidden) == [str(db.seed_004)]
    with db.engine.connect() as conn:
        states = dict(conn.execute(select(Alert.channel, Alert.state).where(Alert.item_id == db.evil)).all())
    assert states == {"analysts": "suppressed", "ops-hook": "sent"}


def test_without_a_configured_token_marking_is_refused(dashboard_db: DashboardDb) -> None:
    app = create_app(dashboard_db.engine, WebSettings(port=0), health=FakeProbe())
    with LiveServer(app) as server, server.client() as client:
        refused = client.post(f"/matches/{dashboard_db.evil}/not-relevant", data={"token": "anything"})
        page = client.get(f"/matches/{dashboard_db.evil}").text
    assert refused.status_code == 403 and "read-only" in refused.text
    assert "<form method=\"post\"" not in page and "read-only" in page


def test_the_atom_feed_is_valid_and_filters_by_rule(served: Served) -> None:
    server, db = served
    with server.client() as client:
        everything = client.get("/matches.atom")
        ohchr = client.get("/matches.atom", params={"rule": "upr"})
        bad = client.get("/matches.atom", params={"rule": "../x"})
    assert everything.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(everything.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [e.link for e in feed.entries] == [f"{server.url}/matches/{i}" for i in (db.evil, db.seed_004, db.seed_000)]
    evil = feed.entries[0]
    assert evil.title == EVIL_ITEM_TITLE  # the title is text, exactly
    assert "<strong>OHCHR</strong>" in evil.summary  # feed readers drop <mark>
    assert "&lt;script&gt;" in evil.summary and "<script" not in evil.summary
    assert evil.id.startswith("urn:uuid:") and len({e.id for e in feed.entries}) == 3
    assert {t.term for t in feed.entries[1].tags} == {"ilo", "ohchr", "upr"}
    assert not any(link.get("href", "").startswith("javascript:") for link in evil.links)

    upr = feedparser.parse(ohchr.content)
    assert not upr.bozo and [e.link for e in upr.entries] == [f"{server.url}/matches/{db.seed_004}"]
    assert upr.feed.title == "press-monitor matches: upr"
    assert bad.status_code == 400


def test_the_atom_feed_uses_base_url_and_survives_control_characters(
    dashboard_db: DashboardDb, token_env: WebSettings
) -> None:
    from sqlalchemy import update

    from monitor.store.models import StoredItem

    with dashboard_db.engine.begin() as conn:
        conn.execute(update(StoredItem).where(StoredItem.id == dashboard_db.seed_004)
                     .values(title="Form\x0cfeed\x01 title \x1b[31m UPR"))
    settings = token_env.model_copy(update={"base_url": "https://monitor.example.org/"})
    app = create_app(dashboard_db.engine, settings, health=FakeProbe())
    with LiveServer(app, settings) as server, server.client() as client:
        feed = feedparser.parse(client.get("/matches.atom").content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries[1].link == f"https://monitor.example.org/matches/{dashboard_db.seed_004}"
    assert feed.entries[1].title == "Formfeed title [31m UPR"


SPOOFED_HOSTS = ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.7",
                 "monitor.example.org.evil.example", "not a host"]


@pytest.mark.parametrize("path", ["/", "/matches.atom", "/feeds", "/healthz"])
def test_only_loopback_names_and_the_base_urls_host_are_answered(
    dashboard_db: DashboardDb, token_env: WebSettings, path: str
) -> None:
    """DNS rebinding: a page the analyst visits makes the browser send the
    dashboard requests under the attacker's host name. Those get a 400."""
    settings = token_env.model_copy(update={"base_url": "https://monitor.example.org/"})
    app = create_app(dashboard_db.engine, settings, health=FakeProbe())
    with LiveServer(app, settings) as server, server.client() as client:
        port = server.url.rsplit(":", 1)[1]
        for host in SPOOFED_HOSTS:
            response = client.get(path, headers={"Host": f"{host}:{port}"})
            assert response.status_code == 400, (host, response.status_code)
            assert "evil" not in response.text
        for host in ("127.0.0.1", "localhost", "LOCALHOST", "[::1]", "monitor.example.org"):
            assert client.get(path, headers={"Host": f"{host}:{port}"}).status_code == 200, host


def test_more_host_names_can_be_allowed(dashboard_db: DashboardDb, token_env: WebSettings) -> None:
    settings = token_env.model_copy(update={"allowed_hosts": ["press.intranet.example"]})
    app = create_app(dashboard_db.engine, settings, health=FakeProbe())
    with LiveServer(app, settings) as server, server.client() as client:
        atom = client.get("/matches.atom", headers={"Host": "press.intranet.example"})
        assert atom.status_code == 200 and "http://press.intranet.example/matches/" in atom.text
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_healthz_says_which_check_failed(dashboard_db: DashboardDb) -> None:
    probe = FakeProbe(age_s=1.0, max_tick_age_s=60)
    app = create_app(dashboard_db.engine, WebSettings(port=0), health=probe)
    down = make_engine("postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    dead_db_app = create_app(down, WebSettings(port=0), health=FakeProbe())
    with LiveServer(app) as server, server.client() as client:
        ok = client.get("/healthz")
        probe.age_s = 300.0
        stuck = client.get("/healthz")
        probe.age_s = None
        never = client.get("/healthz")
    with LiveServer(dead_db_app) as server, server.client() as client:
        no_db = client.get("/healthz")
    down.dispose()

    assert ok.status_code == 200 and ok.json()["status"] == "ok" and ok.json()["failed"] == []
    assert ok.json()["checks"]["database"]["ok"] is True
    assert stuck.status_code == 503 and stuck.json()["failed"] == ["scheduler"]
    assert "no scheduler tick for 300 s" in stuck.json()["checks"]["scheduler"]["error"]
    assert never.status_code == 503 and "not ticked" in never.json()["checks"]["scheduler"]["error"]
    assert no_db.status_code == 503 and no_db.json()["failed"] == ["database"]
    assert no_db.json()["checks"]["scheduler"]["ok"] is True


def test_tick_probe_measures_from_the_daemons_monotonic_clock() -> None:
    now = [100.0]
    last: list[float | None] = [None]
    probe = TickProbe(lambda: last[0], max_tick_age_s=45, clock=lambda: now[0])
    assert probe.tick_age_s() is None
    last[0] = 90.0
    assert probe.tick_age_s() == 10.0


def test_every_response_carries_the_security_headers(served: Served) -> None:
    server, _ = served
    with server.client() as client:
        for path in ("/", "/feeds", "/healthz", "/static/style.css", "/nope"):
            headers = client.get(path).headers
            assert "script-src" not in headers["content-security-policy"]  # default-src 'none' covers it
            assert "default-src 'none'" in headers["content-security-policy"]
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["x-frame-options"] == "DENY"


def test_serve_runs_in_the_callers_loop_without_touching_signals_and_stops_on_the_event(
    dashboard_db: DashboardDb,
) -> None:
    app = create_app(dashboard_db.engine, WebSettings(port=0), health=FakeProbe())
    sock = bind(WebSettings(port=0))
    port = sock.getsockname()[1]
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    async def scenario() -> tuple[int, dict[signal.Signals, object], dict[signal.Signals, object]]:
        before: dict[signal.Signals, object] = {sig: signal.getsignal(sig) for sig in signals}  # asyncio.run's too
        stop = asyncio.Event()
        task = asyncio.create_task(serve(app, WebSettings(port=port), stop, sock=sock))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            status = (await client.get("/healthz")).status_code
        during: dict[signal.Signals, object] = {sig: signal.getsignal(sig) for sig in signals}
        stop.set()
        await asyncio.wait_for(task, 10)  # returns once stop is set (the timeout only stops a hang)
        return status, before, during

    status, before, during = asyncio.run(scenario())
    assert status == 200
    assert during == before  # uvicorn installed no handler of its own
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


DAEMON_LIKE = """
import asyncio, signal, sys
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.web.dashboard import create_app
from monitor.web.health import TickProbe
from monitor.web.server import bind, serve
from monitor.web.settings import WebSettings

async def main() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # the daemon owns its signals
    settings = WebSettings(port=0)
    app = create_app(make_engine(sys.argv[1]), settings, health=TickProbe(loop.time, 60, clock=loop.time))
    sock = bind(settings)
    print(sock.getsockname()[1], flush=True)
    await serve(app, settings, stop, sock=sock)
    print("stopped", flush=True)

asyncio.run(main())
"""


def test_sigterm_reaches_the_daemons_handler_and_stops_the_server(dashboard_db: DashboardDb) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", DAEMON_LIKE, dashboard_db.engine.url.render_as_string(hide_password=False)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=15)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert out.strip().endswith("stopped")


def test_a_port_in_use_is_an_oserror_naming_the_address() -> None:
    taken = bind(WebSettings(port=0))
    try:
        with pytest.raises(OSError, match=rf"127\.0\.0\.1:{taken.getsockname()[1]}"):
            bind(WebSettings(port=taken.getsockname()[1]))
    finally:
        taken.close()


def test_a_token_that_cannot_be_read_stops_the_app_at_creation(dashboard_db: DashboardDb) -> None:
    from monitor.secrets import SecretError

    settings = WebSettings.model_validate({"token": {"env": "MONITOR_TEST_UNSET_TOKEN"}})
    with pytest.raises(SecretError, match="MONITOR_TEST_UNSET_TOKEN"):
        create_app(dashboard_db.engine, settings, health=FakeProbe())


def test_templates_and_static_files_ship_inside_the_package() -> None:
    import monitor.web

    root = Path(monitor.web.__file__).parent
    assert (root / "templates" / "base.html").is_file() and (root / "static" / "style.css").is_file()


def test_latency_shows_on_the_match_page_the_feeds_page_and_in_metrics(served: Served) -> None:
    """Publication, first sight and the alert's sending on a match; per source, the
    median and p95 delay over 30 days (only items seen by live polls count)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from monitor.store.models import Alert, StoredItem

    server, db = served
    seen = datetime.now(UTC) - timedelta(hours=1)
    with db.engine.begin() as conn:
        conn.execute(update(StoredItem).where(StoredItem.id == db.evil).values(
            published_at=seen - timedelta(minutes=4), ingested_at=seen, delay_s=240.0))
        conn.execute(update(Alert).where(Alert.item_id == db.evil).values(
            state="sent", sent_at=seen + timedelta(seconds=30)))
    with server.client() as client:
        match = client.get(f"/matches/{db.evil}").text
        feeds = client.get("/feeds").text
        metrics = client.get("/metrics").text
    assert "4 min after publication" in match and "4.5 min after publication" in match
    row = re.search(rf'data-feed-id="{db.evil_feed}">(.*?)</tr>', feeds, re.S)
    assert row is not None and "4 min / 4 min" in row.group(1)
    assert f'monitor_feed_publish_to_seen_seconds{{feed_id="{db.evil_feed}",quantile="0.95"}} 240.0' in metrics


def test_the_feeds_page_shows_a_hundred_feeds_at_a_time_problems_first(dashboard_db: DashboardDb) -> None:
    """An installation with hundreds of sources: the page counts every feed and shows
    every health total, lists 100 a page (the failing ones first), and a page number
    out of range or not a number lands on a page that exists."""
    feeds = FeedStore(dashboard_db.engine)
    feeds.sync([ListedFeed(f"http://198.51.100.7/feed/{n:03}.xml", f"Ministry {n:03}", "test") for n in range(247)]
               + [ListedFeed(WIRE_FEED, "Wire service", "test"), ListedFeed(EVIL_FEED, EVIL_FEED_TITLE, "test"),
                  ListedFeed(BROKEN_FEED, "Broken ministry feed", "test")])
    app = create_app(dashboard_db.engine, WebSettings(port=0), health=FakeProbe())
    rows = re.compile(r'<tr class="feed" data-health="([a-z-]+)" data-feed-id="(\d+)">')
    with LiveServer(app) as server, server.client() as client:
        first, second, last = (client.get(f"/feeds?page={n}").text for n in (1, 2, 3))
        beyond, junk = client.get("/feeds?page=99").text, client.get("/feeds?page=-1").text
    assert '<span class="count">250</span>' in first and "1 failing" in first and "247 new" in first
    assert len(rows.findall(first)) == 100 and rows.findall(first)[0] == ("backing-off", str(dashboard_db.broken_feed))
    assert "page 1 of 3" in first and 'rel="next" href="?page=2"' in first and 'rel="prev"' not in first
    assert len(rows.findall(last)) == 50 and 'rel="next"' not in last and 'rel="prev" href="?page=2"' in last
    shown = {feed_id for page in (first, second, last) for _, feed_id in rows.findall(page)}
    assert len(shown) == 250  # every feed on exactly one page
    assert rows.findall(beyond) == rows.findall(last) and rows.findall(junk) == rows.findall(first)

