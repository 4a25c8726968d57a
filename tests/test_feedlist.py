"""The operator's feed list: inline, OPML in, OPML out, and `monitor feeds`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import ConfigError, load_config
from monitor.feedlist import listed_feeds, read_opml
from tests.pipeline.test_polling import write_config

OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="UN">
    <outline type="rss" text="UN News" xmlUrl="https://news.un.org/feed/subscribe/en/news/all/rss.xml"/>
    <outline type="rss" text="Dup" xmlUrl="https://example.org/inline.xml"/>
  </outline>
</body></opml>"""


def test_inline_and_opml_feeds_are_listed_once_each(tmp_path: Path) -> None:
    (tmp_path / "feeds.opml").write_text(OPML)
    config = tmp_path / "monitor.toml"
    config.write_text('opml = ["feeds.opml"]\n[[feeds]]\nurl = "https://example.org/inline.xml"\ntitle = "Inline"\n')
    feeds = listed_feeds(load_config(config))
    assert [(f.url, f.title) for f in feeds] == [
        ("https://example.org/inline.xml", "Inline"),
        ("https://news.un.org/feed/subscribe/en/news/all/rss.xml", "UN News"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [("<opml><body><outline xmlUrl='ftp://x/y'/></body></opml>", "not an http(s) URL"),
     ("<html/>", "not an OPML document"),
     ("<opml><body>", "not valid OPML")],
)
def test_a_bad_opml_file_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        read_opml(path)
    assert str(path) in str(error.value)


def test_feeds_lists_state_and_exports_opml_that_reads_back(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, ["https://example.org/a.xml", "https://example.org/b.xml"])
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    from monitor.app import App, prepare_database

    app = App(load_config(config))
    prepare_database(app)
    app.engine.dispose()

    listing = runner.invoke(main, ["--config", str(config), "feeds", "--json"])
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [(r["url"], r["health"]) for r in rows] == [
        ("https://example.org/a.xml", "new"), ("https://example.org/b.xml", "new")]

    exported = runner.invoke(main, ["--config", str(config), "feeds", "export"])
    assert exported.exit_code == 0
    path = tmp_path / "out.opml"
    path.write_bytes(exported.stdout_bytes)
    assert [f.url for f in read_opml(path)] == ["https://example.org/a.xml", "https://example.org/b.xml"]


PAGES_OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="MFA press" xmlUrl="https://mfa.example/en/press/" kind="page" links="div.news-list h3 a"/>
  <outline text="Mission" xmlUrl="https://mission.example/"/>
</body></opml>"""


def test_page_sources_are_listed_from_the_config_and_from_opml_and_exported_again(tmp_path: Path) -> None:
    (tmp_path / "feeds.opml").write_text(PAGES_OPML)
    config = tmp_path / "monitor.toml"
    config.write_text('opml = ["feeds.opml"]\n[[feeds]]\nurl = "https://labour.example/news/"\nkind = "page"\n')
    feeds = listed_feeds(load_config(config))
    assert [(f.url, f.kind, f.links) for f in feeds] == [
        ("https://labour.example/news/", "page", None),
        ("https://mfa.example/en/press/", "page", "div.news-list h3 a"),
        ("https://mission.example/", "feed", None),
    ]


@pytest.mark.parametrize(("outline", "message"), [
    ('kind="listing"', "attribute 'kind' must be \"feed\" or \"page\""),
    ('kind="page" links="div[["', "attribute 'links': not a CSS selector"),
])
def test_a_bad_page_attribute_in_opml_is_a_clear_error(tmp_path: Path, outline: str, message: str) -> None:
    path = tmp_path / "feeds.opml"
    path.write_text(f"<opml><body><outline text='P' xmlUrl='https://p.example/' {outline}/></body></opml>")
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        read_opml(path)
    assert str(path) in str(error.value) and "'P'" in str(error.value)


@pytest.mark.parametrize(("lines", "message"), [
    ('kind = "listing"', "feeds.0.kind"),
    ('kind = "page"\nlinks = "div[["', "feeds.0.links"),
])
def test_a_bad_page_key_in_the_config_names_the_file_and_key(tmp_path: Path, lines: str, message: str) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(f'[[feeds]]\nurl = "https://p.example/"\n{lines}\n')
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert str(config) in str(error.value) and message in str(error.value)


def test_export_keeps_a_page_source_a_page_source(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, [])
    config.write_text(config.read_text() + '[[feeds]]\nurl = "https://mfa.example/en/press/"\nkind = "page"\n'
                      'links = "main h3 a"\n')
    from monitor.app import App, sync_feeds

    app = App(load_config(config))
    sync_feeds(app)
    app.engine.dispose()
    out = CliRunner().invoke(main, ["--config", str(config), "feeds", "export"])
    assert out.exit_code == 0, out.output
    (tmp_path / "again.opml").write_bytes(out.stdout_bytes)
    [again] = read_opml(tmp_path / "again.opml")
    assert (again.url, again.kind, again.links) == ("https://mfa.example/en/press/", "page", "main h3 a")
