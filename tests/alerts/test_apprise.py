"""Apprise (chat and push) alerts end to end, no network: the Apprise URL is a
`json://` endpoint on a real local HTTP server standing in for the service
(Slack, ntfy… answer the same way: 2xx, 401 for a bad token, 5xx)."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from sqlalchemy import select

from monitor.dedupe import fingerprint
from monitor.items import AlertRequest, Item, Prepared
from monitor.rules import compile_rules, load_rules
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.models import Alert
from monitor.store.repository import Store
from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import write_config
from tests.alerts.receiver import Answer, WebhookReceiver
from tests.conftest import RULES, SEEDS

SEED_004 = next(SEEDS.glob("004_*.txt"))
URLS_ENV = "TEST_APPRISE_URLS"
HOSTILE_TITLE = ('**Bold** [click me](https://evil.example/phish) <script>alert(1)</script> '
                 '<a href="https://evil.example">x</a> # not a heading | a | table |\r\nInjected: line _x_ OHCHR')
HOSTILE_URL = "https://news.example/a) [b](https://evil.example/c"


def json_url(rx: WebhookReceiver) -> str:
    return f"json://127.0.0.1:{rx._server.server_address[1]}/hooks/chat"


def chat_config(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, *urls: str, **channel: object) -> Path:
    monkeypatch.setenv(URLS_ENV, "\n".join(urls))
    return write_config(
        tmp_path, db_url,
        channels={"chat": {"type": "apprise", "urls": {"env": URLS_ENV}, "timeout_s": 2, **channel}},
        routes=[{"rules": ["*"], "channel": "chat"}],
    )


def test_a_match_arrives_as_a_short_markdown_message(tmp_path: Path, db_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver() as rx:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(rx))
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, err = invoke(config, "alerts", "send")
    assert code == 0 and "1 sent" in err
    (received,) = rx.received
    body = received.json()
    assert body["title"] == "press-monitor: ohchr, upr, ilo"
    message = body["message"]
    lines = message.splitlines()
    assert lines[0].startswith("**") and lines[0].endswith("**")  # the headline, in bold
    assert "Rules: ohchr, upr, ilo" in message
    assert "Source: BelTA" in message
    quote = next(line for line in lines if line.startswith("> "))
    assert "**" in quote  # the first hit, highlighted
    html = markdown.markdown(message)
    assert html.count("<strong>") >= 2
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and alert["attempts"] == 1
    assert "JSON" in alert["attempt_log"][0]["status"]


def test_a_500_is_retried_and_then_delivered(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver(script=[500]) as rx:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(rx))
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, err = invoke(config, "alerts", "send")
        assert code == 5 and "1 failed (will retry)" in err
        (alert,) = alerts_json(config)
        assert alert["state"] == "pending" and "error=500" in alert["last_error"]
        assert alert["attempt_log"][0]["status"] == "500"
        time.sleep(0.3)  # the test retry schedule: 0.2 s
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "1 sent" in err
    assert [r.status for r in rx.received] == [500, 200]
    assert rx.received[0].body == rx.received[1].body
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and alert["attempts"] == 2


def test_no_answer_in_time_is_retried(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver(script=[Answer(block=True)]) as rx:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(rx), timeout_s=1)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        started = time.monotonic()
        code, _, err = invoke(config, "alerts", "send")
        assert time.monotonic() - started < 10
        assert code == 5 and "1 failed (will retry)" in err
        rx.release()
    (alert,) = alerts_json(config)
    assert alert["state"] == "pending"


@pytest.mark.parametrize("status", [401, 404])
def test_a_bad_token_disables_the_channel_with_the_reason(tmp_path: Path, db_url: str,
                                                          monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    with WebhookReceiver(script=[status]) as rx:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(rx))
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, err = invoke(config, "alerts", "send")
        assert code == 5 and "disabled by their receiver: chat" in err
        time.sleep(0.3)  # the retry is due: only the disabled channel keeps it back
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "0 sent, 0 failed" in err
        assert len(rx.received) == 1, "a disabled channel must not be called"
        code, out, _ = invoke(config, "alerts", "channels")
        assert "DISABLED" in out and f"error={status}" in out
        assert "hooks/chat" not in out  # the URL is a secret: the service and host only

        assert invoke(config, "alerts", "enable", "chat")[1].strip() == "chat enabled"
        assert invoke(config, "alerts", "send")[0] == 0
    assert [r.status for r in rx.received] == [status, 200]


def test_a_fixed_url_re_enables_the_channel(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver(script=[403]) as old, WebhookReceiver() as new:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(old))
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        assert "disabled by their receiver: chat" in invoke(config, "alerts", "send")[2]
        monkeypatch.setenv(URLS_ENV, json_url(new))  # the operator puts the new token in the secret
        time.sleep(0.3)
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "1 sent" in err
    assert len(old.received) == 1 and len(new.received) == 1


def test_a_url_apprise_does_not_know_stops_at_start(tmp_path: Path, db_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = chat_config(tmp_path, db_url, monkeypatch, "nosuchservice://token@host")
    code, _, err = invoke(config, "alerts", "test", "chat")
    assert code == 2
    assert "channel 'chat'" in err and "not an Apprise URL" in err and "environment variable " + URLS_ENV in err
    assert "token" not in err


def test_alerts_test_sends_the_sample_to_every_url(tmp_path: Path, db_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver() as a, WebhookReceiver() as b:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(a), json_url(b), format="text")
        code, out, err = invoke(config, "alerts", "test", "chat")
    assert code == 0, err
    assert "ok: chat accepted the test message" in out
    for rx in (a, b):
        (received,) = rx.received
        message = received.json()["message"]
        assert message.startswith("press-monitor test alert")
        assert "*International Labour Organization*" in message  # the first hit, marked as in a chat


def test_alerts_test_says_what_the_service_answered(tmp_path: Path, db_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver(script=[401]) as rx:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(rx))
        code, _, err = invoke(config, "alerts", "test", "chat")
    assert code == 5 and "error=401" in err and "JSON json://127.0.0.1" in err


# -- hostile feed text ---------------------------------------------------------------


class _Html(HTMLParser):
    """Every tag and the text of a rendered message."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def parsed(html: str) -> _Html:
    parser = _Html()
    parser.feed(html)
    parser.close()
    return parser


def store_hostile_match(db_url: str) -> None:
    """A story whose title and link are attacks on the message format, stored as is."""
    engine = make_engine(db_url)
    feed = "https://evil.example/feed.xml"
    FeedStore(engine).sync([ListedFeed(feed, "Evil ** [feed](x)", "test")])
    matcher = compile_rules(load_rules([RULES]))
    item = Item(source=feed, guid="evil-1", title=HOSTILE_TITLE, url=HOSTILE_URL,
                text="Text with <b>tags</b> and **stars** around the OHCHR [link](https://evil.example).")
    Store(engine).ingest(feed, [Prepared(item, matcher.scan(item), fingerprint(item), None,
                                         (AlertRequest("chat", ("ohchr",)),))])
    with engine.connect() as conn:
        assert conn.execute(select(Alert.id)).all()
    engine.dispose()


@pytest.mark.parametrize("body_format", ["markdown", "html", "text"])
def test_a_hostile_title_cannot_break_the_message(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                  body_format: str) -> None:
    with WebhookReceiver() as rx:
        config = chat_config(tmp_path, db_url, monkeypatch, json_url(rx), format=body_format)
        assert invoke(config, "db", "upgrade")[0] == 0
        store_hostile_match(db_url)
        code, _, err = invoke(config, "alerts", "send")
    assert code == 0, err
    message = rx.received[0].json()["message"]
    if body_format == "text":
        lines = message.splitlines()
        assert lines[0].startswith("**Bold** [click me](https://evil.example/phish) <script>")  # as it was written
        assert not any(line.startswith("Injected") for line in lines), "a CR/LF in the title made a new line"
        return
    html = markdown.markdown(message, extensions=["markdown.extensions.nl2br", "markdown.extensions.tables"]) \
        if body_format == "markdown" else message
    doc = parsed(html)
    tags = {tag for tag, _ in doc.tags}
    assert "script" not in tags and "table" not in tags and not {"h1", "h2"} & tags
    links = [attrs.get("href") for tag, attrs in doc.tags if tag == "a"]
    assert len(links) == 1 and (links[0] or "").startswith("https://news.example/a"), links  # ours, whole
    assert "**Bold** [click me](https://evil.example/phish) <script>alert(1)</script>" in doc.text
    assert "Injected" in doc.text and "\nInjected" not in doc.text
