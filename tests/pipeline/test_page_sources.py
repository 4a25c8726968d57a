"""Sites without a feed, and sites whose feed is found for you: the local test
site (tests/ingest/site/) served by a real HTTP server on 127.0.0.1, polled by
the daemon's own cycle into a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.app import App
from monitor.config import load_config
from monitor.store.feeds import FeedState, FeedStore
from monitor.store.models import ItemText, StoredItem
from monitor.web.dashboard import create_app
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import cycle, seed_entries, write_config
from tests.web.conftest import FakeProbe, LiveServer


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


SITE = Path(__file__).parent.parent / "ingest" / "site"
HTML = "text/html; charset=utf-8"
ARTICLE_PATHS = [
    "/en/press/2024/03/foreign-minister-addresses-the-human-rights-council.html",
    "/en/press/2024/03/statement-on-the-upr-working-group.html",
    "/en/press/2024/03/deputy-minister-meets-ilo-director-general.html",
    "/en/press/2024/03/consultations-with-the-eu.html",
    "/en/press/2024/03/briefing-by-the-spokesperson.html",
    "/en/press/2024/03/condolences.html",
]


def page(name: str) -> bytes:
    return (SITE / name).read_bytes()


def config_with(tmp_path: Path, db_url: str, sources: list[dict[str, str]]) -> Path:
    """A test config (see test_polling.write_config) listing `sources` with their keys."""
    path = write_config(tmp_path, db_url, [])
    blocks = ["[[feeds]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in s.items()) for s in sources]
    path.write_text(path.read_text() + "".join(blocks), encoding="utf-8")
    return path


def items(config: Path) -> list[tuple[str, str, str | None]]:
    app = App(load_config(config))
    with app.engine.connect() as conn:
        rows = conn.execute(select(StoredItem.title, ItemText.text, StoredItem.url).join(ItemText, ItemText.item_id == StoredItem.id)
                            .order_by(StoredItem.id)).all()
    app.engine.dispose()
    return [tuple(r) for r in rows]


def states(config: Path) -> dict[str, FeedState]:
    app = App(load_config(config))
    found = {f.url: f for f in FeedStore(app.engine).all()}
    app.engine.dispose()
    return found


def monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))


def test_a_listing_page_yields_its_articles_then_only_new_ones_and_a_new_menu_or_banner_yields_nothing(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    url = server.add_feed("/en/press/", page("press-semantic.html"), HTML)
    config = config_with(tmp_path, db_url, [{"url": url, "kind": "page"}])

    first = cycle(config)  # the first poll takes the articles listed then
    assert [(p.result, p.new) for p in first.polls] == [("new", 6)]
    stored = items(config)
    assert [u for _, _, u in stored] == [server.url(p) for p in ARTICLE_PATHS]
    assert stored[1][:2] == ("Statement on the adoption of the UPR Working Group report", "")

    unchanged = cycle(config, all_feeds=True)
    assert [p.result for p in unchanged.polls] == ["not-modified"]  # conditional request, as for a feed
    assert server.last_headers("/en/press/").get("if-none-match")

    redecorated = page("press-semantic.html").replace(
        b'<li><a href="/en/contact.html">Contact</a></li>',
        b'<li><a href="/en/contact.html">Contact</a></li>'
        b'<li><a href="/en/careers/2025/vacancies-for-young-diplomats.html">Vacancies for young diplomats</a></li>',
    ).replace(b"/en/campaigns/human-rights-75-join-the-global-campaign.html",
              b"/en/campaigns/2025/international-labour-conference-side-event.html").replace(
        b"Human Rights 75: join the global campaign for dignity and justice",
        b"International Labour Conference: register for the side event")
    server.publish("/en/press/", redecorated)
    assert [(p.result, p.new) for p in cycle(config, all_feeds=True).polls] == [("unchanged", 0)]

    fresh = b"""<article class="teaser">
      <h3><a href="/en/press/2024/03/minister-meets-the-high-commissioner.html">Minister meets the UN High
        Commissioner for Human Rights (OHCHR)</a></h3>
      <time datetime="2024-03-15T09:00:00+01:00">15 March 2024</time><p>A meeting in Geneva.</p></article>"""
    server.publish("/en/press/", redecorated.replace(b'<div class="news-list">', b'<div class="news-list">' + fresh))
    latest = cycle(config, all_feeds=True)
    assert [(p.result, p.new, p.matched) for p in latest.polls] == [("new", 1, 1)]  # OHCHR in the headline
    assert items(config)[-1][0] == "Minister meets the UN High Commissioner for Human Rights (OHCHR)"
    state = states(config)[url]
    assert (state.source_kind, state.resolved_as, state.items_seen >= 0) == ("page", "page", True)


def test_a_home_page_that_declares_its_feed_has_that_feed_polled_and_shown(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    home = server.add_feed("/site/", page("home-declares-feed.html"), HTML)
    feed = server.add_feed("/site/feed/press.xml", feed_xml(seed_entries()))  # the relative href, resolved
    server.add_feed("/site/comments/feed.xml", feed_xml([{"title": "A comment", "guid": "c1"}]))
    config = config_with(tmp_path, db_url, [{"url": home}])

    first = cycle(config)
    assert [(p.result, p.new, p.matched) for p in first.polls] == [("new", 2, 2)]
    state = states(config)[home]
    assert (state.resolved_as, state.resolved_url, state.last_error) == ("feed", feed, None)
    assert server.requests("/site/comments/feed.xml") == 0

    again = cycle(config, all_feeds=True)  # the feed alone, conditionally: the page is not fetched again
    assert [p.result for p in again.polls] == ["not-modified"]
    assert (server.requests("/site/"), server.requests("/site/feed/press.xml")) == (1, 2)

    shown = monitor(config, "feeds")
    assert f"reads the feed this page declares: {feed}" in shown.stdout, shown.stderr
    listed = json.loads(monitor(config, "feeds", "--json").stdout)
    assert (listed["resolved_as"], listed["resolved_url"], listed["url"]) == ("feed", feed, home)
    app = App(load_config(config))
    web = create_app(app.engine, app.config.settings.web, health=FakeProbe())
    with LiveServer(web) as live, live.client() as client:
        feeds_page = client.get("/feeds").text
    app.engine.dispose()
    assert f'<small class="reads">reads the feed this page declares: {feed}</small>' in feeds_page

    server.publish("/site/feed/press.xml", b"<html><body>Moved</body></html>")  # the declared feed breaks
    broken = cycle(config, all_feeds=True)
    assert [p.result for p in broken.polls] == ["error"]
    state = states(config)[home]
    assert f"the page declares the feed {feed}" in state.last_error
    assert (state.resolved_as, state.resolved_url) == (None, None)  # the next poll starts from the page
    cycle(config, all_feeds=True)
    assert server.requests("/site/") == 2


def test_a_page_without_a_feed_given_as_a_source_is_read_as_a_listing_and_shown_so(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    url = server.add_feed("/news/", page("press-divsoup.html"), "text/html")  # charset only in the page
    config = config_with(tmp_path, db_url, [{"url": url}])

    assert [(p.result, p.new, p.matched) for p in cycle(config).polls] == [("new", 4, 1)]  # ILO in a headline
    assert [title for title, _, _ in items(config)][2] == "Café workers’ rights: new guidance published"
    state = states(config)[url]
    assert (state.source_kind, state.resolved_as, state.resolved_url) == ("feed", "page", url)
    assert "reads listing page: it is not a feed and declares none" in monitor(config, "feeds").stdout


def test_a_css_selector_chooses_the_links(server: FeedServer, tmp_path: Path, db_url: str) -> None:
    url = server.add_feed("/en/press/", page("press-semantic.html"), HTML)
    config = config_with(tmp_path, db_url, [{"url": url, "kind": "page", "links": "aside.sidebar li"}])

    assert [(p.result, p.new) for p in cycle(config).polls] == [("new", 3)]
    assert [title for title, _, _ in items(config)] == [
        "Minister at the high-level event on Human Rights 75",
        "The country presents its national report to the UPR",
        "Agreement with the ILO on decent work signed",
    ]


def test_hostile_and_empty_pages_are_recorded_errors_and_the_good_page_still_polls(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    good = server.add_feed("/en/press/", page("press-semantic.html"), HTML)
    empty = server.add_feed("/soon/", page("declares-nothing.html"), HTML)
    json_page = server.add_feed("/api/news", b'{"news": []}', "application/json")
    hostile = {name: server.hostile_url(name) for name in ("slow", "huge", "gzip-bomb", "404", "500")}
    sources = [{"url": good, "kind": "page"}, {"url": empty}, {"url": empty + "?as=page", "kind": "page"},
               {"url": json_page, "kind": "page"}, *({"url": u, "kind": "page"} for u in hostile.values())]
    config = config_with(tmp_path, db_url, sources)

    report = {p.url: p for p in cycle(config).polls}

    assert (report[good].result, report[good].new) == ("new", 6)
    found = states(config)
    for source in sources[1:]:
        assert report[source["url"]].result == "error", source
        assert found[source["url"]].last_error and found[source["url"]].consecutive_errors == 1, source
    assert "not a feed: an HTML page that declares no feed" in found[empty].last_error
    assert "no link on it looks like an article" in found[empty + "?as=page"].last_error
    assert "not an HTML page" in found[json_page].last_error
    assert "exceeds" in found[hostile["huge"]].last_error
    assert "404" in found[hostile["404"]].last_error


def test_changing_how_a_source_is_read_resolves_it_again_without_the_old_validators(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    home = server.add_feed("/site/", page("home-declares-feed.html"), HTML)
    server.add_feed("/site/feed/press.xml", feed_xml(seed_entries()))
    config = config_with(tmp_path, db_url, [{"url": home}])
    cycle(config)
    assert states(config)[home].resolved_as == "feed"

    # the operator wants the home page itself read as a listing (it lists nothing: an error, said so)
    config = config_with(tmp_path, db_url, [{"url": home, "kind": "page"}])
    report = cycle(config)  # due at once: the change made it so
    state = states(config)[home]
    assert [p.result for p in report.polls] == ["error"]
    assert (state.source_kind, state.resolved_as, state.etag) == ("page", None, None)
    assert "listing page without articles" in state.last_error
    assert not server.last_headers("/site/").get("if-none-match")


def test_a_listing_pages_articles_are_fetched_and_classified_on_their_body(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """A listing gives only links and headlines: the article step fetches each one, and
    a mention that only the article's body makes is found (the listing's own menu and
    footer, which name the UPR and the ILO, never count)."""
    url = server.add_feed("/en/press/", page("press-semantic.html"), HTML)
    body = ("<html><head><title>Consultations</title></head><body><nav><a href='/'>Home</a> "
            "<a href='/ilo'>ILO</a></nav><article><h1>Consultations with the EU</h1>"
            "<p>The delegations met in Brussels for their annual consultations on trade and labour.</p>"
            "<p>They agreed to follow up the recommendations of the International Labour Organization "
            "on freedom of association before the next round.</p></article>"
            "<footer>Universal Periodic Review | OHCHR</footer></body></html>").encode()
    server.add_feed("/en/press/2024/03/consultations-with-the-eu.html", body, HTML)
    config = config_with(tmp_path, db_url, [{"url": url, "kind": "page"}])

    # two headlines name the UPR and the ILO; the third match is the article's body
    assert [(p.result, p.new, p.matched) for p in cycle(config).polls] == [("new", 6, 3)]
    app = App(load_config(config))
    with app.engine.connect() as conn:
        rows = conn.execute(select(StoredItem.url, ItemText.text, StoredItem.matched, StoredItem.flags)
                            .join(ItemText, ItemText.item_id == StoredItem.id)).all()
    app.engine.dispose()
    by_url = {r.url: r for r in rows}
    fetched = by_url[server.url("/en/press/2024/03/consultations-with-the-eu.html")]
    assert "International Labour Organization" in fetched.text and "OHCHR" not in fetched.text
    assert fetched.matched
    missing = by_url[server.url(ARTICLE_PATHS[0])]  # not served: kept, flagged, to be retried
    assert (missing.text, missing.matched, missing.flags) == ("", False, ["article-missing"])
