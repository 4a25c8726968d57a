"""A feed URL's credentials never reach an output: log lines, CLI, pages, alerts.

Real processes and servers: `monitor poll --once` against the feed server,
`monitor alerts send` to a webhook receiver, the dashboard under uvicorn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.app import App
from monitor.config import ConfigError, load_config
from monitor.web.dashboard import create_app
from tests.alerts.conftest import WHSEC
from tests.alerts.receiver import WebhookReceiver
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import cycle, seed_entries, write_config
from tests.web.conftest import FakeProbe, LiveServer

SECRETS = ["pa55word-9f", "KEY-81c4", "TOK-77aa", "SIG-0d1e"]


def _monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TEST_WHSEC": WHSEC})


def test_credentials_in_a_feed_url_are_redacted_in_every_output(tmp_path: Path) -> None:
    with FeedServer() as server, WebhookReceiver(secret=WHSEC) as rx:
        plain = server.add_feed("/press.xml", feed_xml(seed_entries()))
        url = (plain.replace("http://", "http://analyst:pa55word-9f@")
               + "?apikey=KEY-81c4&access_token=TOK-77aa&X-Amz-Signature=SIG-0d1e&page=2")
        server.add_feed("/broken.xml", b"<html>not a feed</html>", content_type="text/html")
        broken = server.url("/broken.xml").replace("http://", "http://analyst:pa55word-9f@") + "?token=TOK-77aa"
        config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [url, broken], log_level="INFO")
        config.write_text(config.read_text() + (
            f'[channels.ops]\ntype = "webhook"\nurl = "{rx.url}"\nsecret = {{ env = "TEST_WHSEC" }}\ntimeout_s = 3\n'
            '[[routes]]\nrules = ["*"]\nchannel = "ops"\n'))

        outputs = [_monitor(config, "poll", "--once", "--json"), _monitor(config, "alerts", "send"),
                   _monitor(config, "feeds"), _monitor(config, "feeds", "--json"),
                   _monitor(config, "feeds", "export")]
        assert "page=2" in outputs[0].stdout and "analyst" not in outputs[0].stdout
        assert rx.received, outputs[1].stderr
        app = App(load_config(config))
        web = create_app(app.engine, app.config.settings.web, health=FakeProbe())
        with LiveServer(web) as live, live.client() as client:
            pages = [client.get(path).text for path in ("/", "/feeds", "/matches.atom", "/matches/1")]
        app.engine.dispose()
        assert server.requests("/press.xml") == 1  # the credentials were used

    seen = "\n".join([*(p.stdout + p.stderr for p in outputs), *(r.body.decode() for r in rx.received), *pages])
    assert "/press.xml" in seen and "/broken.xml" in seen
    for secret in SECRETS:
        assert secret not in seen, secret
    assert json.loads(rx.received[0].body)["item"]["feed"].startswith("http://***@127.0.0.1")


def test_a_feeds_credentials_come_from_secret_references_and_stay_on_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_AUTH", "Bearer tok-123")
    monkeypatch.setenv("FEED_KEY", "key-456")
    with FeedServer() as server:
        private = server.add_feed("/private.xml", feed_xml(seed_entries()))
        server.add_feed("/elsewhere.xml", feed_xml(seed_entries()))
        moved = server.redirect_url(server.url("/elsewhere.xml", host="localhost"))  # another origin
        config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [])
        config.write_text(config.read_text() + (
            f'[[feeds]]\nurl = "{private}"\n'
            'headers = { Authorization = { env = "FEED_AUTH" }, "X-Api-Key" = { env = "FEED_KEY" } }\n'
            f'[[feeds]]\nurl = "{moved}"\nheaders = {{ "X-Api-Key" = {{ env = "FEED_KEY" }} }}\n'))

        report = cycle(config)

        assert sorted(p.result for p in report.polls) == ["new", "new"], report.polls
        sent = server.last_headers("/private.xml")
        assert sent.get("authorization") == "Bearer tok-123" and sent.get("x-api-key") == "key-456"
        assert "x-api-key" not in server.last_headers("/elsewhere.xml")  # not across the redirect

    monkeypatch.delenv("FEED_KEY")
    with pytest.raises(ConfigError, match=r"monitor.toml: key 'feeds\[0\].headers.X-Api-Key': environment variable FEED_KEY"):
        cycle(config)
