"""`monitor feeds discover URL`: what the daemon would read at a URL, checked
against the local test site on a real HTTP server before it is added."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_page_sources import SITE
from tests.pipeline.test_polling import seed_entries, write_config


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


HTML = "text/html; charset=utf-8"


def discover(tmp_path: Path, *args: str):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'never-created.db'}", [])
    return CliRunner().invoke(main, ["--config", str(config), "feeds", "discover", *args])


def test_a_listing_page_shows_its_article_links(server: FeedServer, tmp_path: Path) -> None:
    url = server.add_feed("/en/press/", (SITE / "press-semantic.html").read_bytes(), HTML)
    out = discover(tmp_path, url)
    assert out.exit_code == 0, out.output
    assert "is a listing page (it declares no feed)" in out.output and "article links: 6" in out.output
    assert "Deputy Minister meets the ILO Director-General" in out.output
    assert "Most read" not in out.output and "Privacy policy" not in out.output
    assert f"first article: {server.url('/en/press/2024/03/foreign-minister-addresses-the-human-rights-council.html')}" \
        in out.output
    assert not (tmp_path / "never-created.db").exists()  # nothing is stored

    chosen = json.loads(discover(tmp_path, "--json", "--links", "aside li a", url).output)
    assert chosen["read_as"] == "page" and len(chosen["entries"]) == 3


def test_a_home_page_shows_the_feed_it_declares(server: FeedServer, tmp_path: Path) -> None:
    home = server.add_feed("/site/", (SITE / "home-declares-feed.html").read_bytes(), HTML)
    feed = server.add_feed("/site/feed/press.xml", feed_xml(seed_entries(), title="Press releases"))
    server.add_feed("/site/comments/feed.xml", feed_xml([]))

    out = discover(tmp_path, home)
    assert out.exit_code == 0, out.output
    assert "declares its feed" in out.output and f"feed      {feed}" in out.output
    found = json.loads(discover(tmp_path, "--json", home).output)
    assert (found["read_as"], found["feed_url"], found["declared_by"]) == ("feed", feed, home)
    assert found["title"] == "Press releases" and len(found["entries"]) == 2
    assert found["declared"] == [feed, server.url("/site/comments/feed.xml")]  # comment feeds last


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/soon/", (SITE / "declares-nothing.html").read_bytes(), "declares no feed"),
    ("/hostile/404", None, "404"),
])
def test_nothing_to_read_exits_3_saying_why(
    server: FeedServer, tmp_path: Path, path: str, body: bytes | None, message: str
) -> None:
    url = server.add_feed(path, body, HTML) if body is not None else server.url(path)
    out = discover(tmp_path, url)
    assert out.exit_code == 3 and message in out.output


@pytest.mark.parametrize("args", [["ftp://example.org/"], ["--links", "div[[", "https://example.org/"]])
def test_a_bad_url_or_selector_exits_2(tmp_path: Path, args: list[str]) -> None:
    assert discover(tmp_path, *args).exit_code == 2
