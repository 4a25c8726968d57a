"""One story, one alert, and links as the publisher meant them: live polls of a
real HTTP server on 127.0.0.1 into a real database, alerts sent to a real SMTP
server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from monitor.dedupe.fingerprints import headline_key
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.models import StoredItem
from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import SmtpServer, email_channel, smtp, toml_value  # noqa: F401 - smtp is a fixture
from tests.conftest import RULES
from tests.dedupe.test_stories import HEADLINE, SENTENCES, TRIMMED, WHOLE
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import cycle


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def config_for(tmp_path: Path, db_url: str, feeds: dict[str, str], smtp_port: int = 1) -> Path:
    """Feeds (url -> the operator's title) on 127.0.0.1, one email channel for every rule."""
    lines = [
        f'state_dir = {toml_value(tmp_path / "state")}',
        f"[database]\nurl = {toml_value(db_url)}",
        f"[rules]\npaths = [{toml_value(RULES)}]",
        '[log]\nlevel = "WARNING"',
        "[schedule]\nparse_workers = 0\nmin_interval_s = 60",
        '[fetch]\nallowed_networks = ["127.0.0.1/32"]\ndeadline_s = 3\nread_timeout_s = 2',
        "[web]\nport = 0",
        "[channels.desk]\n" + "\n".join(f"{k} = {toml_value(v)}" for k, v in email_channel(smtp_port).items()),
        '[[routes]]\nrules = ["ohchr", "upr", "ilo"]\nchannel = "desk"',
    ]
    lines += [f"[[feeds]]\nurl = {json.dumps(url)}\ntitle = {json.dumps(title)}" for url, title in feeds.items()]
    path = tmp_path / "monitor.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_story_republished_trimmed_by_two_wires_is_one_alert_and_one_email(
    server: FeedServer, tmp_path: Path, db_url: str, smtp: SmtpServer  # noqa: F811
) -> None:
    now = datetime.now(UTC)
    un = server.add_feed("/un.xml", feed_xml([
        {"title": HEADLINE, "link": "/en/story/2026/12/1", "description": WHOLE, "pubDate": now},
    ], title="UN News"))
    wire = server.add_feed("/wire.xml", feed_xml([
        {"title": f"UN: {HEADLINE}", "link": "https://wire.example/world/1", "guid": "w-1",
         "description": TRIMMED, "pubDate": now + timedelta(minutes=20)},
    ], title="Wire"))
    config = config_for(tmp_path, db_url, {un: "UN News", wire: "A wire"}, smtp.port)
    first = cycle(config)
    assert sorted((p.new, p.matched) for p in first.polls) == [(1, 1), (1, 1)]  # both stored, both match

    later = server.add_feed("/later.xml", feed_xml([  # another wire, the next cycle, paragraphs of its own
        {"title": f"UPDATE: {HEADLINE} - Later Wire", "link": "https://later.example/a", "guid": "l-1",
         "description": "\n\n".join(SENTENCES[:2]) + "\n\nCopyright Later Wire. All rights reserved."},
    ], title="Later Wire"))
    config = config_for(tmp_path, db_url, {un: "UN News", wire: "A wire", later: "Later wire"}, smtp.port)
    second = cycle(config)
    assert [(p.url, p.new) for p in second.polls if p.url == later] == [(later, 1)]

    (alert,) = alerts_json(config)
    code, _, err = invoke(config, "alerts", "send")
    assert code == 0 and "1 sent" in err, err
    (message,) = smtp.sink.messages
    body = message[1].get_body(("plain",)).get_content()
    # the copies are listed as other sources of the story, by the operator's titles, the feeds' own beside
    assert "A wire (Wire)" in body and "Later wire (Later Wire)" in body

    code, out, _ = invoke(config, "feeds")
    assert code == 0 and "A wire  (feed: Wire)" in out and "UN News\n" in out  # the same title: said once
    code, out, _ = invoke(config, "feeds", "--json")
    assert {(f["title"], f["feed_title"]) for f in map(json.loads, out.splitlines())} == {
        ("UN News", "UN News"), ("A wire", "Wire"), ("Later wire", "Later Wire")}


def test_a_relative_link_is_stored_resolved_against_where_the_feed_redirected(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    server.add_feed("/en/feed/rss.xml", feed_xml([
        {"title": "OHCHR welcomes ILO report", "link": "story/1", "description": "The OHCHR welcomed it."},
        {"title": "UPR session opens", "link": "/en/news/2.html", "description": "The UPR session opened."},
    ]))
    moved = server.redirect("/rss", "/en/feed/rss.xml", status=301)
    config = config_for(tmp_path, db_url, {moved: "Moved"})
    cycle(config)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(StoredItem.url, StoredItem.canonical_url).order_by(StoredItem.id)).all()
    engine.dispose()
    base = moved.removesuffix("/rss")  # http://127.0.0.1:port
    canonical = base.replace("http://", "https://")
    assert [tuple(r) for r in rows] == [(f"{base}/en/feed/story/1", f"{canonical}/en/feed/story/1"),
                                        (f"{base}/en/news/2.html", f"{canonical}/en/news/2.html")]


def test_an_entry_stored_with_its_relative_link_before_the_upgrade_does_not_alert_again(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """Stored by the version that kept links as written (guid and url "/en/news/1.html",
    no canonical URL): the upgrade resolves the stored link, the entry served again is
    the same entry, and another feed linking the article absolutely is the same story."""
    entry = {"title": "OHCHR welcomes ILO report", "link": "/en/news/1.html",
             "description": "The Office of the High Commissioner (OHCHR) welcomed the ILO report on Monday."}
    feed = server.add_feed("/rss.xml", feed_xml([entry], title="Ministry"))
    host = feed.removesuffix("/rss.xml")
    engine = make_engine(db_url)
    migrations.upgrade(engine, "0004")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO feeds (url, kind, title, enabled, consecutive_errors, items_seen, stale, created_at)"
            " VALUES (:url, 'http', 'Ministry', :yes, 0, 1, :no, :now)"), {"url": feed, "yes": True, "no": False,
                                                                         "now": now})
        conn.execute(text(
            "INSERT INTO items (feed_id, guid, url, canonical_url, title, text, ingested_at, flags, content_hash,"
            " fingerprint, fp_band0, fp_band1, fp_band2, fp_band3, matched)"
            " VALUES (1, '/en/news/1.html', '/en/news/1.html', NULL, :title, :text, :now, '[]', 'old', 1, 1, 2, 3,"
            " 4, :yes)"), {"title": entry["title"], "text": entry["description"], "now": now, "yes": True})
    migrations.upgrade(engine)
    with engine.connect() as conn:
        assert tuple(conn.execute(select(StoredItem.url, StoredItem.canonical_url, StoredItem.headline_key)).one()) == (
            f"{host}/en/news/1.html", f"https://{host.removeprefix('http://')}/en/news/1.html",
            headline_key(entry["title"]))  # recent enough to be repeated: its headline key is filled in

    elsewhere = server.add_feed("/other.xml", feed_xml([  # the same article, linked absolutely, new words
        {"title": "Report welcomed", "link": f"{host}/en/news/1.html?utm_source=rss", "guid": "o-1",
         "description": "The ILO report was welcomed by OHCHR, a spokesperson said in Geneva on Monday."}]))
    config = config_for(tmp_path, db_url, {feed: "Ministry", elsewhere: "Other"})
    report = cycle(config, all_feeds=True)
    assert sorted((p.url, p.new) for p in report.polls) == sorted([(feed, 0), (elsewhere, 1)])
    assert alerts_json(config) == []  # neither the entry served again nor the other feed's copy alerts
    with engine.connect() as conn:
        copy = conn.execute(select(StoredItem.duplicate_of).where(StoredItem.guid == "o-1")).scalar_one()
    assert copy is not None
    engine.dispose()
