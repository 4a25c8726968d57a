"""Alerts as people and programs read them: the webhook JSON payload (version 1)
and the email (multipart text + HTML).

Everything from a feed is untrusted. In HTML it is escaped; before a header it
is reduced to one line of printable text (a CR/LF in a title must neither add
a header nor make the message unbuildable); headers are only ever set through
the stdlib `email` package, never pasted together.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from monitor.alerts.content import Content, Digest, Match, Source
from monitor.alerts.highlight import marked_snippet, to_html, to_text
from monitor.alerts.settings import EmailChannel
from monitor.items import Hit
from monitor.secrets import redact_url

PAYLOAD_VERSION = 1
MAX_PAYLOAD_HITS = 100  # the spec suggests small payloads; hits_total says how many there were
MAX_EMAIL_HITS_PER_RULE = 5
SUBJECT_TITLE_CHARS = 120
_WS = re.compile(r"\s+")


# -- plain helpers ------------------------------------------------------------


def one_line(text: str | None, limit: int | None = None) -> str:
    """Printable, single-line text for a header: controls (CR, LF, NUL, bidi
    overrides, line/paragraph separators…) become spaces, runs collapse."""
    if not text:
        return ""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    cleaned = _WS.sub(" ", cleaned).strip()
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def header_text(text: str) -> str:
    """`text` as it must reach a header: never an RFC 2047 encoded word. The email
    package decodes `=?charset?q?…?=` in any header value it is given, even inside
    a word, and unpatched Pythons (CVE-2024-6923) then write a decoded CR LF out raw,
    adding headers. A zero-width space after every `=` of `=?` leaves the text as
    the reader sees it and gives the parser nothing to decode."""
    return text.replace("=?", "=\u200b?")


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "unknown"


def snippet_of(match: Match, hit: Hit) -> str:
    """The marked snippet of one hit (other hits of the alert in view marked too)."""
    return marked_snippet(match.field_text(hit), hit, match.hits)


def _source_line(source: Source) -> str:
    return one_line(source.name)


def _place(match: Match) -> str:
    return f", {one_line(match.place)}" if match.place else ""


# -- webhook payload ----------------------------------------------------------


def payload(content: Content) -> dict[str, Any]:
    """The documented JSON body (see README "Alerts"): version 1."""
    if isinstance(content, Digest):
        matches = [_match_fields(m) for m in content.matches]
        return {
            "version": PAYLOAD_VERSION,
            "type": "press-monitor.digest",
            "id": content.key,
            "created_at": iso(content.created_at),
            "channel": content.channel,
            "period": {"start": iso(content.period_start), "end": iso(content.period_end)},
            "rules": list(content.rules),
            "by_rule": {rule: [m.key for m in group] for rule, group in content.by_rule().items()},
            "matches": matches,
        }
    return {
        "version": PAYLOAD_VERSION,
        "type": "press-monitor.match",
        "channel": content.channel,
        **_match_fields(content),
    }


def _match_fields(match: Match) -> dict[str, Any]:
    return {
        "id": match.key,
        "created_at": iso(match.created_at),
        "item": {
            "title": match.title,
            "url": match.url,
            "guid": match.guid,
            "source": match.source.name,
            "feed": redact_url(match.source.feed),
            "place": match.place,
            "language": match.language,
            "published": iso(match.published),
        },
        "rules": list(match.rules),
        "hits": [
            {
                "rule": h.rule, "term": h.term, "field": h.field, "start": h.start, "end": h.end,
                "matched": h.matched, "snippet": to_text(snippet_of(match, h)),
            }
            for h in match.hits[:MAX_PAYLOAD_HITS]
        ],
        "hits_total": len(match.hits),
        "sources": [
            {"name": s.name, "feed": redact_url(s.feed), "url": s.url, "title": s.title, "published": iso(s.published),
             "seen_at": iso(s.seen_at)}
            for s in match.sources
        ],
    }


# -- email ------------------------------------------------------------------------


def message_id(key: str, sender: str) -> str:
    """Stable per alert, so a mail system or reader can drop a duplicate after a crash."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "press-monitor.invalid"
    return f"<{key}@{domain}>"


def email(content: Content, channel: EmailChannel, *, now: datetime | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["Subject"] = header_text(subject(content, channel.subject_prefix))
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = message_id(content.key, channel.sender)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    msg["X-Press-Monitor-Id"] = content.key
    if isinstance(content, Digest):
        text, body = digest_text(content), digest_html(content)
    else:
        text, body = match_text(content), match_html(content)
    msg.set_content(text)
    msg.add_alternative(body, subtype="html")
    return msg


def subject(content: Content, prefix: str) -> str:
    if isinstance(content, Digest):
        counts = ", ".join(f"{rule} {len(group)}" for rule, group in content.by_rule().items())
        n = len(content.matches)
        return one_line(f"{prefix} digest: {n} match{'es' if n != 1 else ''} ({counts})")
    rules = ", ".join(content.rules)
    return one_line(f"{prefix} {rules}: {one_line(content.title, SUBJECT_TITLE_CHARS)}")


def _by_rule(match: Match) -> list[tuple[str, list[Hit]]]:
    return [(rule, [h for h in match.hits if h.rule == rule]) for rule in match.rules]


def match_text(match: Match) -> str:
    lines = [one_line(match.title), ""]
    lines.append(f"Source:  {_source_line(match.source)}{_place(match)}")
    lines.append(f"Date:    {when(match.published)}" if match.published
                 else f"Date:    {when(match.source.seen_at)} (stored; no publication date)")
    if match.url:
        lines.append(f"Link:    {one_line(match.url)}")
    lines.append(f"Rules:   {', '.join(match.rules)}")
    for rule, hits in _by_rule(match):
        lines += ["", f"{rule}: {one_line(match.descriptions.get(rule, ''))}".rstrip(": ")]
        for hit in hits[:MAX_EMAIL_HITS_PER_RULE]:
            lines.append(f"  - \"{one_line(hit.matched)}\" ({hit.field})")
            lines.append(f"    {one_line(to_text(snippet_of(match, hit)))}")
        if len(hits) > MAX_EMAIL_HITS_PER_RULE:
            lines.append(f"  … and {len(hits) - MAX_EMAIL_HITS_PER_RULE} more")
    if len(match.sources) > 1:
        lines += ["", "Also published by:"]
        for s in match.sources[1:]:
            link = f" <{one_line(s.url)}>" if s.url else ""
            lines.append(f"  - {_source_line(s)}: {one_line(s.title, 160)}{link} ({when(s.published or s.seen_at)})")
    lines += ["", "-- ", f"press-monitor alert {match.key} (channel {match.channel})"]
    return "\n".join(lines) + "\n"


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _link(url: str | None, label: str) -> str:
    if url and url.lower().startswith(("http://", "https://")):
        return f'<a href="{_e(url)}">{_e(label)}</a>'
    return _e(label)


_STYLE = "font-family:sans-serif;font-size:14px;line-height:1.4;color:#222"
_MARK = "<style>mark{background:#ffe066;padding:0 2px}</style>"


def _match_block(match: Match, *, heading: str = "h2", rules: Sequence[str] | None = None) -> list[str]:
    date = (f"{_e(when(match.published))}" if match.published
            else f"{_e(when(match.source.seen_at))} (stored)")
    parts = [
        f"<{heading} style=\"margin:0 0 6px\">{_link(match.url, one_line(match.title))}</{heading}>",
        f"<p style=\"margin:0 0 8px;color:#555\">{_e(_source_line(match.source))}{_e(_place(match))}"
        f" &middot; {date}",
    ]
    if match.url:
        parts[-1] += f" &middot; {_link(match.url, 'link')}"
    parts[-1] += f" &middot; rules: <b>{_e(', '.join(match.rules))}</b></p>"
    for rule, hits in _by_rule(match):
        if rules is not None and rule not in rules:
            continue
        desc = match.descriptions.get(rule)
        parts.append(f"<p style=\"margin:8px 0 2px\"><b>{_e(rule)}</b>"
                     + (f" <span style=\"color:#777\">{_e(one_line(desc))}</span>" if desc else "") + "</p><ul>")
        for hit in hits[:MAX_EMAIL_HITS_PER_RULE]:
            parts.append(f"<li>{to_html(snippet_of(match, hit))}"
                         f" <span style=\"color:#999\">({_e(hit.field)})</span></li>")
        if len(hits) > MAX_EMAIL_HITS_PER_RULE:
            parts.append(f"<li>… and {len(hits) - MAX_EMAIL_HITS_PER_RULE} more</li>")
        parts.append("</ul>")
    if len(match.sources) > 1:
        parts.append("<p style=\"margin:8px 0 2px\">Also published by:</p><ul>")
        for s in match.sources[1:]:
            parts.append(f"<li>{_e(_source_line(s))}: {_link(s.url, one_line(s.title, 160))}"
                         f" ({_e(when(s.published or s.seen_at))})</li>")
        parts.append("</ul>")
    return parts


def match_html(match: Match) -> str:
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\">{_MARK}</head>",
             f"<body style=\"{_STYLE}\">", *_match_block(match),
             f"<p style=\"color:#999;font-size:12px\">press-monitor alert {_e(match.key)}"
             f" (channel {_e(match.channel)})</p></body></html>"]
    return "\n".join(parts)


def digest_text(digest: Digest) -> str:
    n = len(digest.matches)
    lines = [f"press-monitor digest: {n} match{'es' if n != 1 else ''} "
             f"from {when(digest.period_start)} to {when(digest.period_end)}"]
    for rule, matches in digest.by_rule().items():
        desc = one_line(digest.descriptions.get(rule, ""))
        lines += ["", f"== {rule} ({len(matches)}){' - ' + desc if desc else ''} =="]
        for m in matches:
            lines.append(f"* {one_line(m.title)}")
            lines.append(f"  {_source_line(m.source)}{_place(m)}, {when(m.published or m.source.seen_at)}"
                         + (f", {one_line(m.url)}" if m.url else ""))
            first = next((h for h in m.hits if h.rule == rule), None)
            if first is not None:
                lines.append(f"  {one_line(to_text(snippet_of(m, first)))}")
            others = [r for r in m.rules if r != rule]
            if others:
                lines.append(f"  (also: {', '.join(others)})")
    lines += ["", "-- ", f"press-monitor digest {digest.key} (channel {digest.channel})"]
    return "\n".join(lines) + "\n"


def digest_html(digest: Digest) -> str:
    n = len(digest.matches)
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\">{_MARK}</head>",
             f"<body style=\"{_STYLE}\">",
             f"<h1 style=\"font-size:18px\">{n} match{'es' if n != 1 else ''} from "
             f"{_e(when(digest.period_start))} to {_e(when(digest.period_end))}</h1>"]
    for rule, matches in digest.by_rule().items():
        desc = digest.descriptions.get(rule)
        parts.append(f"<h2 style=\"font-size:16px;border-bottom:1px solid #ddd\">{_e(rule)} ({len(matches)})"
                     + (f" <span style=\"color:#777;font-weight:normal\">{_e(one_line(desc))}</span>" if desc else "")
                     + "</h2>")
        for m in matches:
            parts += _match_block(m, heading="h3", rules=[rule])
    parts.append(f"<p style=\"color:#999;font-size:12px\">press-monitor digest {_e(digest.key)}"
                 f" (channel {_e(digest.channel)})</p></body></html>")
    return "\n".join(parts)
