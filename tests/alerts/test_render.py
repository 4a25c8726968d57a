"""Untrusted feed text in emails and payloads: no header injection, no markup."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.policy import SMTP

from monitor.alerts.content import MatchAlert
from monitor.alerts.render import email, payload
from monitor.alerts.settings import EmailChannel
from monitor.items import Hit
from monitor.present.snippets import as_html, email_mark, snippet
from monitor.store.matches import Match, Source

CHANNEL = EmailChannel.model_validate({
    "type": "email", "to": ["desk@example.org", "Legal <legal@example.org>"], "from": "pm <alerts@example.org>",
    "smtp_host": "127.0.0.1", "security": "none",
})
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def match(title: str, text: str = "The OHCHR said so.") -> MatchAlert:
    hits = []
    if "OHCHR" in text:
        at = text.index("OHCHR")
        hits.append(Hit("ohchr", "OHCHR", "text", at, at + 5, "OHCHR"))
    source = Source(item_id=1, feed_id=1, feed_url="https://feeds.example/rss", feed_title=None,
                    url="https://news.example/a?x=1&y=2", title=title, origin="Agency <b>X</b>",
                    published_at=NOW, ingested_at=NOW)
    story = Match(id=1, guid="g", title=title, text=text, url="https://news.example/a?x=1&y=2", language="en",
                  place=None, hits=tuple(hits), sources=(source,))
    return MatchAlert(key="msg_0123456789abcdef0123456789abcdef", channel="desk", created_at=NOW,
                      rules=("ohchr",), match=story)


def roundtrip(title: str, text: str = "The OHCHR said so.") -> object:
    raw = email(match(title, text), CHANNEL, now=NOW).as_bytes(policy=SMTP)
    return raw, message_from_bytes(raw, policy=policy.default)


def test_a_crlf_title_injects_no_header_and_does_not_fail() -> None:
    raw, msg = roundtrip("Breaking\r\nBcc: victim@example.net\r\n\r\nbody?\x00\x1b[31m")
    assert msg["Bcc"] is None
    assert b"\r\nBcc:" not in raw
    assert msg["Subject"] == "[press-monitor] ohchr: Breaking Bcc: victim@example.net body? [31m"
    assert msg["To"] == "desk@example.org, Legal <legal@example.org>"
    assert msg["Message-ID"] == "<msg_0123456789abcdef0123456789abcdef@example.org>"
    text = msg.get_body(("plain",)).get_content()
    assert text.splitlines()[0] == "Breaking Bcc: victim@example.net body? [31m"


def test_html_in_a_title_or_text_is_escaped_and_only_hits_are_marked() -> None:
    _, msg = roundtrip('<script>alert(1)</script> & "OHCHR"',
                       'He said <img src=x onerror=alert(1)> \ue000 the OHCHR <mark>x</mark>')
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<mark>") == 1 and "<mark>OHCHR</mark>" in html
    assert "&lt;mark&gt;x&lt;/mark&gt;" in html
    assert "Agency &lt;b&gt;X&lt;/b&gt;" in html
    assert 'href="https://news.example/a?x=1&amp;y=2"' in html


def test_a_non_ascii_title_is_encoded_and_survives() -> None:
    title = "Верховный комиссар ООН по правам человека — Türk"
    _, msg = roundtrip(title)
    assert msg["Subject"] == f"[press-monitor] ohchr: {title}"


def test_a_long_title_is_shortened_in_the_subject_only() -> None:
    _, msg = roundtrip("word " * 100)
    assert len(msg["Subject"]) < 160 and msg["Subject"].endswith("…")


def test_the_payload_is_version_1_with_offsets_and_snippets() -> None:
    body = payload(match("OHCHR statement"))
    assert body["version"] == 1 and body["type"] == "press-monitor.match"
    assert body["id"] == "msg_0123456789abcdef0123456789abcdef"
    assert body["created_at"] == "2026-11-23T08:00:00Z"
    (hit,) = body["hits"]
    assert hit == {"rule": "ohchr", "term": "OHCHR", "field": "text", "start": 4, "end": 9,
                   "matched": "OHCHR", "snippet": "The OHCHR said so."}
    assert body["sources"][0]["url"] == "https://news.example/a?x=1&y=2"
    json.dumps(body)


def test_every_hit_in_the_window_is_marked_and_a_cut_hit_as_far_as_it_shows() -> None:
    text = "ILO and OHCHR and ILO again, " + "filler " * 30 + "ILO at the end"
    hits = [Hit("ilo", "ILO", "text", 0, 3, "ILO"), Hit("ohchr", "OHCHR", "text", 8, 13, "OHCHR"),
            Hit("ilo", "ILO", "text", 18, 21, "ILO")]
    html = as_html(snippet(text, hits, anchor=hits[1], width=20), email_mark)
    assert html.count("<mark>") == html.count("</mark>") == 3
    text = "Office of the High Commissioner for Human Rights said " + "x " * 50
    hits = [Hit("ohchr", "Office of the High Commissioner for Human Rights", "text", 0, 48, text[:48]),
            Hit("said", "said", "text", 49, 53, "said")]
    html = as_html(snippet(text, hits, anchor=hits[1], width=10), email_mark)
    assert html.startswith("…<mark>Rights</mark> <mark>said</mark> x")
