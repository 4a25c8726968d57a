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
    from monitor.app import App
    from monitor.daemon import prepare_database

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
