"""Whole articles: a local press site with a summary-only feed, polled by the real
poller against a real database; the article of every new entry is fetched,
extracted and classified, the page furniture (which names OHCHR, the UPR and the
ILO on every page) never counts, and a failed fetch loses nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from monitor.app import App, poll_once
from monitor.config import load_config
from monitor.items import ARTICLE_DISALLOWED, ARTICLE_MISSING, ARTICLE_UNREADABLE
from monitor.store.models import Alert, ArticleRetry, Feed, ItemText, StoredHit, StoredItem, StoryPrint
from tests.articles.bodies import BODIES
from tests.articles.site import LAYOUTS, pages, summary_feed
from tests.conftest import RULES
from tests.feedserver import FeedServer, feed_xml

BY_SLUG = {b.slug: b for b in BODIES}


@pytest.fixture
def site() -> Iterator[FeedServer]:
    with FeedServer() as server:
        for page in pages():
            server.add_feed(page.path, page.html, content_type="text/html; charset=utf-8"
                            if page.layout != "table" else "text/html")
        yield server


def write_config(tmp_path: Path, db_url: str, feeds: list[dict[str, Any]], *, articles: dict | None = None,
                 alerts: bool = False) -> Path:
    lines = [
        f"[database]\nurl = {json.dumps(db_url)}",
        f"[rules]\npaths = [{json.dumps(str(RULES))}]",
        '[log]\nlevel = "WARNING"',
        '[fetch]\nallowed_networks = ["127.0.0.1/32"]\ndeadline_s = 3\nread_timeout_s = 2',
        "[schedule]\nparse_workers = 0",
        "[web]\nport = 0",
        "[articles]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in (articles or {}).items()),
    ]
    if alerts:
        lines += ['[channels.ops]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"',
                  '[[routes]]\nrules = ["ohchr", "upr", "ilo"]\nchannel = "ops"']
    for feed in feeds:
        lines.append("[[feeds]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in feed.items()))
    path = tmp_path / "monitor.toml"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return path


def cycle(config: Path, *, all_feeds: bool = True):
    app = App(load_config(config))
    try:
        return poll_once(app, all_feeds=all_feeds)
    finally:
        app.engine.dispose()


def read(config: Path, query):
    app = App(load_config(config))
    try:
        with app.engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        app.engine.dispose()


def rules_by_guid(config: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for guid, rule in read(config, select(StoredItem.guid, StoredHit.rule).join(
            StoredHit, StoredHit.item_id == StoredItem.id, isouter=True)):
        found.setdefault(guid, set())
        if rule:
            found[guid].add(rule)
    return found


def test_summary_feeds_get_their_articles_and_only_the_body_counts(
    site: FeedServer, tmp_path: Path, db_url: str
) -> None:
    base = site.url("").rstrip("/")
    feeds = []
    for layout in LAYOUTS:
        feeds.append({"url": site.add_feed(f"/{layout}.xml", feed_xml(summary_feed(base, layout)))})
    config = write_config(tmp_path, db_url, feeds)

    report = cycle(config)

    assert sorted(p.new for p in report.polls) == [len(BODIES)] * len(LAYOUTS)
    expected = {f"{layout}-{b.slug}": set(b.rules) for layout in LAYOUTS for b in BODIES}
    assert rules_by_guid(config) == expected  # every mention found, none from the menus, sidebars, footers
    stored = select(StoredItem.guid, ItemText.text, ItemText.summary, StoredItem.flags) \
        .join(ItemText, ItemText.item_id == StoredItem.id)
    for guid, text, summary, flags in read(config, stored):
        body = BY_SLUG[guid.split("-", 1)[1]]
        assert body.paragraphs[-1][:60] in text  # the stored text is the article
        assert summary and summary.rstrip(".…").strip()[:40] in body.summary  # and the feed's summary is kept
        assert not flags
    for text, start, end, matched in read(config, select(ItemText.text, StoredHit.start, StoredHit.end,
                                                         StoredHit.matched)
                                              .join(StoredHit, StoredHit.item_id == ItemText.item_id)):
        assert text[start:end] == matched  # offsets point into the article text


def test_articles_are_fetched_only_for_new_entries(site: FeedServer, tmp_path: Path, db_url: str) -> None:
    base = site.url("").rstrip("/")
    entries = summary_feed(base, "semantic")
    url = site.add_feed("/news.xml", feed_xml(entries[:3]))
    config = write_config(tmp_path, db_url, [{"url": url}])
    cycle(config)
    first = [site.requests(f"/semantic/{b.slug}.html") for b in BODIES[:4]]
    assert first == [1, 1, 1, 0]

    cycle(config)  # 304: nothing fetched
    site.publish("/news.xml", feed_xml(entries[:4]))
    cycle(config)  # one new entry: one article
    assert [site.requests(f"/semantic/{b.slug}.html") for b in BODIES[:4]] == [1, 1, 1, 1]


def test_fulltext_never_and_full_text_entries_fetch_nothing(site: FeedServer, tmp_path: Path, db_url: str) -> None:
    base = site.url("").rstrip("/")
    full = [dict(e, description="\n".join(f"<p>{p}</p>" for p in BY_SLUG[e["guid"].split("-", 1)[1]].paragraphs)
                 * 2) for e in summary_feed(base, "divs")]
    auto = site.add_feed("/full.xml", feed_xml(full))
    never = site.add_feed("/never.xml", feed_xml(summary_feed(base, "semantic")))
    config = write_config(tmp_path, db_url, [{"url": auto}, {"url": never, "fulltext": "never"}])
    cycle(config)
    assert sum(site.requests(p.path) for p in pages()) == 0
    found = rules_by_guid(config)
    assert {g: r for g, r in found.items() if g.startswith("divs-")} == {
        f"divs-{b.slug}": set(b.rules) for b in BODIES}


HOSTILE_ARTICLES = {
    "slow": ("slow", {"interval": 1}),
    "huge": ("huge", {}),
    "gzip-bomb": ("gzip-bomb", {"mib": 64}),
    "404": ("404", {}),
    "500": ("500", {}),
    "429": ("429", {}),
}


def test_hostile_article_pages_lose_nothing(site: FeedServer, tmp_path: Path, db_url: str) -> None:
    """Every entry names its rule in the summary: whatever the article page does,
    the item is stored and matched on what the feed gave, and flagged."""
    links = {name: site.hostile_url(kind, **params) for name, (kind, params) in HOSTILE_ARTICLES.items()}
    links["private"] = site.redirect_url("http://169.254.169.254/latest/meta-data/")
    links["not-html"] = site.add_feed("/report.pdf", b"%PDF-1.4 binary", content_type="application/pdf")
    links["empty-page"] = site.add_feed("/blank.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
                                        content_type="text/html")
    entries = [{"title": f"Statement {name}", "link": link, "guid": name,
                "description": "The ILO Governing Body met on Monday… Read more"} for name, link in links.items()]
    url = site.add_feed("/hostile.xml", feed_xml(entries))
    config = write_config(tmp_path, db_url, [{"url": url}])

    report = cycle(config)

    assert [(p.result, p.new, p.matched) for p in report.polls] == [("new", len(links), len(links))]
    flags = dict(read(config, select(StoredItem.guid, StoredItem.flags)))
    assert flags == {name: [ARTICLE_UNREADABLE] if name in ("not-html", "empty-page") else [ARTICLE_MISSING]
                     for name in links}
    retried = {guid for guid, in read(config, select(StoredItem.guid).join(
        ArticleRetry, ArticleRetry.item_id == StoredItem.id))}
    assert retried == set(links) - {"not-html", "empty-page"}
    assert rules_by_guid(config) == {name: {"ilo"} for name in links}


def test_robots_txt_is_honoured_unless_turned_off(site: FeedServer, tmp_path: Path, db_url: str) -> None:
    site.add_feed("/robots.txt", b"User-agent: *\nDisallow: /semantic/\n", content_type="text/plain")
    base = site.url("").rstrip("/")
    polite = site.add_feed("/semantic.xml", feed_xml(summary_feed(base, "semantic")))
    config = write_config(tmp_path, db_url, [{"url": polite}])
    cycle(config)
    assert sum(site.requests(f"/semantic/{b.slug}.html") for b in BODIES) == 0
    assert site.requests("/robots.txt") == 1  # once per site, not per article
    assert {tuple(f) for f, in read(config, select(StoredItem.flags))} == {(ARTICLE_DISALLOWED,)}

    rude = site.add_feed("/semantic-again.xml", feed_xml(
        [dict(e, guid="again-" + e["guid"]) for e in summary_feed(base, "semantic")]))
    config = write_config(tmp_path, db_url, [{"url": polite}, {"url": rude, "robots": False}])
    cycle(config)
    assert all(site.requests(f"/semantic/{b.slug}.html") == 1 for b in BODIES)
    found = rules_by_guid(config)
    assert {g: r for g, r in found.items() if g.startswith("again-")} == {
        f"again-semantic-{b.slug}": set(b.rules) for b in BODIES}


def test_a_failed_article_is_retried_and_its_match_alerts_once(
    site: FeedServer, tmp_path: Path, db_url: str
) -> None:
    body = BY_SLUG["minsk-geneva-talks"]  # the ILO only in the last paragraph
    link = site.url("/late/minsk.html")
    url = site.add_feed("/late.xml", feed_xml([{"title": body.title, "link": link, "guid": "late",
                                                 "description": body.summary}]))
    config = write_config(tmp_path, db_url, [{"url": url}], alerts=True,
                          articles={"retry_first_s": 60, "retry_for_s": 3600})
    cycle(config)  # the article is not there yet (404)
    [(matched, flags)] = read(config, select(StoredItem.matched, StoredItem.flags))
    assert (matched, flags) == (False, [ARTICLE_MISSING])
    [(summary_print,)] = read(config, select(StoryPrint.fingerprint))
    [(attempts, due)] = read(config, select(ArticleRetry.attempts, ArticleRetry.next_attempt_at))
    assert attempts == 1 and due > datetime.now(UTC) + timedelta(seconds=30)

    cycle(config)  # not due yet: not fetched again
    assert site.requests("/late/minsk.html") == 1
    make_due(config)
    cycle(config)  # due, still 404: backs off
    [(attempts, due)] = read(config, select(ArticleRetry.attempts, ArticleRetry.next_attempt_at))
    assert attempts == 2 and due > datetime.now(UTC) + timedelta(seconds=90)

    site.add_feed("/late/minsk.html", next(p for p in pages(("divs",)) if p.body is body).html,
                  content_type="text/html; charset=utf-8")
    make_due(config)
    cycle(config)
    make_due(config)
    cycle(config)
    [(matched, flags, summary)] = read(config, select(StoredItem.matched, StoredItem.flags, ItemText.summary)
                                                      .join(ItemText, ItemText.item_id == StoredItem.id))
    assert (matched, flags) == (True, [])
    assert summary.startswith("MINSK, 4 November")
    # Near copies are looked for by the article's fingerprint now, not the summary's.
    assert read(config, select(StoryPrint.fingerprint)) == read(config, select(StoredItem.fingerprint))
    assert read(config, select(StoryPrint.fingerprint)) != [(summary_print,)]
    assert rules_by_guid(config) == {"late": {"ilo"}}
    assert len(read(config, select(Alert.id))) == 1
    assert read(config, select(ArticleRetry.item_id)) == []
    assert site.requests("/late/minsk.html") == 3


def test_retries_stop_after_the_configured_time(site: FeedServer, tmp_path: Path, db_url: str) -> None:
    url = site.add_feed("/gone.xml", feed_xml([{"title": "T", "link": site.url("/never.html"), "guid": "g",
                                                "description": "Short…"}]))
    config = write_config(tmp_path, db_url, [{"url": url}], articles={"retry_first_s": 60, "retry_for_s": 100})
    cycle(config)
    make_due(config)
    cycle(config)  # the next wait (120 s) would end past give_up_at: given up, kept for the operator
    [(due, error)] = read(config, select(ArticleRetry.next_attempt_at, ArticleRetry.last_error))
    assert due is None and "404" in error


def make_due(config: Path) -> None:
    app = App(load_config(config))
    try:
        with app.engine.begin() as conn:
            conn.execute(update(ArticleRetry).where(ArticleRetry.next_attempt_at.is_not(None))
                         .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
            conn.execute(update(Feed).values(next_poll_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        app.engine.dispose()


def test_monitor_feeds_shows_articles_that_could_not_be_fetched(
    site: FeedServer, tmp_path: Path, db_url: str
) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    url = site.add_feed("/broken.xml", feed_xml([{"title": "T", "link": site.hostile_url("500"), "guid": "g",
                                                  "description": "The ILO met… Read more"}]))
    config = write_config(tmp_path, db_url, [{"url": url}])
    cycle(config)
    result = CliRunner().invoke(main, ["--config", str(config), "feeds"])
    assert result.exit_code == 0, result.output
    assert "articles: 1 to retry, 0 given up; last error: HTTP 500" in result.output
    as_json = json.loads(CliRunner().invoke(main, ["--config", str(config), "feeds", "--json"]).output)
    assert as_json["articles"].startswith("articles: 1 to retry")
