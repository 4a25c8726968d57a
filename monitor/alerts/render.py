"""Alerts as people and programs read them: the webhook JSON payload (version 1),
the email (multipart text + HTML) and the chat message (Apprise: Markdown,
HTML or text, short enough for a phone).

Everything from a feed is untrusted (`monitor.present.sanitize`). In HTML it is
escaped; before a header it is reduced to one line of printable text (a CR/LF
in a title must neither add a header nor make the message unbuildable);
headers are only ever set through the stdlib `email` package, never pasted
together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from monitor.alerts.content import Content, Digest, MatchAlert
from monitor.alerts.settings import EmailChannel
from monitor.items import Hit
from monitor.present.dates import iso, when
from monitor.present.sanitize import header_text, html_text, markdown_href, markdown_text, one_line, safe_href
from monitor.present.snippets import (
    Snippet,
    as_html,
    as_markdown,
    as_marked_text,
    as_text,
    email_mark,
    feed_mark,
    snippet,
)
from monitor.secrets import redact_url
from monitor.store.matches import Match, Source

PAYLOAD_VERSION = 1
MAX_PAYLOAD_HITS = 100  # the spec suggests small payloads; hits_total says how many there were
MAX_EMAIL_HITS_PER_RULE = 5
SUBJECT_TITLE_CHARS = 120


# -- plain helpers ------------------------------------------------------------


def snippet_of(story: Match, hit: Hit) -> Snippet:
    """The snippet of one hit (other hits of the alert in view marked too)."""
    return snippet(story.field_text(hit), story.hits_in(hit.field), anchor=hit)


def _source_line(source: Source) -> str:
    """The operator's name for the source, the publisher's own beside it when it differs."""
    return one_line(f"{source.name} ({source.beside})" if source.beside else source.name)


def _place(story: Match) -> str:
    return f", {one_line(story.place)}" if story.place else ""


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


def _match_fields(alert: MatchAlert) -> dict[str, Any]:
    story = alert.match
    return {
        "id": alert.key,
        "created_at": iso(alert.created_at),
        "item": {
            "title": story.title,
            "url": story.url,
            "guid": story.guid,
            "source": story.source.name,
            "feed": redact_url(story.source.feed_url),
            "place": story.place,
            "language": story.language,
            "published": iso(story.published_at),
        },
        "rules": list(alert.rules),
        "hits": [
            {
                "rule": h.rule, "term": h.term, "field": h.field, "start": h.start, "end": h.end,
                "matched": h.matched, "snippet": as_text(snippet_of(story, h)),
            }
            for h in story.hits[:MAX_PAYLOAD_HITS]
        ],
        "hits_total": len(story.hits),
        "sources": [
            {"name": s.name, "feed": redact_url(s.feed_url), "url": s.url, "title": s.title,
             "published": iso(s.published_at), "seen_at": iso(s.ingested_at)}
            for s in story.sources
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
    return one_line(f"{prefix} {rules}: {one_line(content.match.title, SUBJECT_TITLE_CHARS)}")


def _by_rule(alert: MatchAlert) -> list[tuple[str, list[Hit]]]:
    return [(rule, [h for h in alert.match.hits if h.rule == rule]) for rule in alert.rules]


def match_text(alert: MatchAlert) -> str:
    story = alert.match
    lines = [one_line(story.title), ""]
    lines.append(f"Source:  {_source_line(story.source)}{_place(story)}")
    lines.append(f"Date:    {when(story.published_at)}" if story.published_at
                 else f"Date:    {when(story.ingested_at)} (stored; no publication date)")
    if story.url:
        lines.append(f"Link:    {one_line(story.url)}")
    lines.append(f"Rules:   {', '.join(alert.rules)}")
    for rule, hits in _by_rule(alert):
        lines += ["", f"{rule}: {one_line(alert.descriptions.get(rule, ''))}".rstrip(": ")]
        for hit in hits[:MAX_EMAIL_HITS_PER_RULE]:
            lines.append(f"  - \"{one_line(hit.matched)}\" ({hit.field})")
            lines.append(f"    {one_line(as_text(snippet_of(story, hit)))}")
        if len(hits) > MAX_EMAIL_HITS_PER_RULE:
            lines.append(f"  … and {len(hits) - MAX_EMAIL_HITS_PER_RULE} more")
    if story.extra_sources:
        lines += ["", "Also published by:"]
        for s in story.extra_sources:
            link = f" <{one_line(s.url)}>" if s.url else ""
            lines.append(f"  - {_source_line(s)}: {one_line(s.title, 160)}{link}"
                         f" ({when(s.published_at or s.ingested_at)})")
    lines += ["", "-- ", f"press-monitor alert {alert.key} (channel {alert.channel})"]
    return "\n".join(lines) + "\n"


def _link(url: str | None, label: str) -> str:
    href = safe_href(url)
    return f'<a href="{html_text(href)}">{html_text(label)}</a>' if href else html_text(label)


_STYLE = "font-family:sans-serif;font-size:14px;line-height:1.4;color:#222"
_MARK = "<style>mark{background:#ffe066;padding:0 2px}</style>"


def _match_block(alert: MatchAlert, *, heading: str = "h2", rules: Sequence[str] | None = None) -> list[str]:
    story = alert.match
    date = (f"{html_text(when(story.published_at))}" if story.published_at
            else f"{html_text(when(story.ingested_at))} (stored)")
    parts = [
        f"<{heading} style=\"margin:0 0 6px\">{_link(story.url, one_line(story.title))}</{heading}>",
        f"<p style=\"margin:0 0 8px;color:#555\">{html_text(_source_line(story.source))}{html_text(_place(story))}"
        f" &middot; {date}",
    ]
    if story.url:
        parts[-1] += f" &middot; {_link(story.url, 'link')}"
    parts[-1] += f" &middot; rules: <b>{html_text(', '.join(alert.rules))}</b></p>"
    for rule, hits in _by_rule(alert):
        if rules is not None and rule not in rules:
            continue
        desc = alert.descriptions.get(rule)
        parts.append(f"<p style=\"margin:8px 0 2px\"><b>{html_text(rule)}</b>"
                     + (f" <span style=\"color:#777\">{html_text(one_line(desc))}</span>" if desc else "") + "</p><ul>")
        for hit in hits[:MAX_EMAIL_HITS_PER_RULE]:
            parts.append(f"<li>{as_html(snippet_of(story, hit), email_mark)}"
                         f" <span style=\"color:#999\">({html_text(hit.field)})</span></li>")
        if len(hits) > MAX_EMAIL_HITS_PER_RULE:
            parts.append(f"<li>… and {len(hits) - MAX_EMAIL_HITS_PER_RULE} more</li>")
        parts.append("</ul>")
    if story.extra_sources:
        parts.append("<p style=\"margin:8px 0 2px\">Also published by:</p><ul>")
        for s in story.extra_sources:
            parts.append(f"<li>{html_text(_source_line(s))}: {_link(s.url, one_line(s.title, 160))}"
                         f" ({html_text(when(s.published_at or s.ingested_at))})</li>")
        parts.append("</ul>")
    return parts


def match_html(alert: MatchAlert) -> str:
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\">{_MARK}</head>",
             f"<body style=\"{_STYLE}\">", *_match_block(alert),
             f"<p style=\"color:#999;font-size:12px\">press-monitor alert {html_text(alert.key)}"
             f" (channel {html_text(alert.channel)})</p></body></html>"]
    return "\n".join(parts)


def digest_text(digest: Digest) -> str:
    n = len(digest.matches)
    lines = [f"press-monitor digest: {n} match{'es' if n != 1 else ''} "
             f"from {when(digest.period_start)} to {when(digest.period_end)}"]
    for rule, matches in digest.by_rule().items():
        desc = one_line(digest.descriptions.get(rule, ""))
        lines += ["", f"== {rule} ({len(matches)}){' - ' + desc if desc else ''} =="]
        for alert in matches:
            story = alert.match
            lines.append(f"* {one_line(story.title)}")
            lines.append(f"  {_source_line(story.source)}{_place(story)}, "
                         f"{when(story.published_at or story.ingested_at)}"
                         + (f", {one_line(story.url)}" if story.url else ""))
            first = next((h for h in story.hits if h.rule == rule), None)
            if first is not None:
                lines.append(f"  {one_line(as_text(snippet_of(story, first)))}")
            others = [r for r in alert.rules if r != rule]
            if others:
                lines.append(f"  (also: {', '.join(others)})")
    lines += ["", "-- ", f"press-monitor digest {digest.key} (channel {digest.channel})"]
    return "\n".join(lines) + "\n"


def digest_html(digest: Digest) -> str:
    n = len(digest.matches)
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\">{_MARK}</head>",
             f"<body style=\"{_STYLE}\">",
             f"<h1 style=\"font-size:18px\">{n} match{'es' if n != 1 else ''} from "
             f"{html_text(when(digest.period_start))} to {html_text(when(digest.period_end))}</h1>"]
    for rule, matches in digest.by_rule().items():
        desc = digest.descriptions.get(rule)
        described = f" <span style=\"color:#777;font-weight:normal\">{html_text(one_line(desc))}</span>" if desc else ""
        parts.append(f"<h2 style=\"font-size:16px;border-bottom:1px solid #ddd\">{html_text(rule)} ({len(matches)})"
                     f"{described}</h2>")
        for m in matches:
            parts += _match_block(m, heading="h3", rules=[rule])
    parts.append(f"<p style=\"color:#999;font-size:12px\">press-monitor digest {html_text(digest.key)}"
                 f" (channel {html_text(digest.channel)})</p></body></html>")
    return "\n".join(parts)


# -- chat message (Apprise) ---------------------------------------------------------

CHAT_TITLE_CHARS = 200
CHAT_DIGEST_MATCHES = 20  # a phone screen or two; the rest is counted


def chat_title(content: Content) -> str:
    """Only trusted words (our name, rule ids, counts): services that show a
    title apart read it as plain text, others blend it into the body."""
    if isinstance(content, Digest):
        n = len(content.matches)
        return f"press-monitor digest: {n} match{'es' if n != 1 else ''} ({', '.join(content.rules)})"
    return f"press-monitor: {', '.join(content.rules)}"


def chat_body(content: Content, body_format: str) -> str:
    """The message in `body_format` ("markdown", "html" or "text"), every piece
    of feed text escaped for it, so a title cannot add a link, markup or a line."""
    if isinstance(content, Digest):
        return _CHAT_DIGEST[body_format](content)
    return _CHAT_MATCH[body_format](content)


def _first_hit(alert: MatchAlert) -> Hit | None:
    return next((h for h in alert.match.hits if h.rule in alert.rules), None)


def _chat_facts(alert: MatchAlert) -> tuple[str, str]:
    """(source line, rules line) as plain one-line text, still to be escaped."""
    story = alert.match
    date = when(story.published_at) if story.published_at else f"{when(story.ingested_at)} (stored)"
    also = len(story.extra_sources)
    source = f"{_source_line(story.source)}{_place(story)}, {date}" + (f" (+{also} more sources)" if also else "")
    return source, ", ".join(alert.rules)


def _chat_markdown(alert: MatchAlert) -> str:
    story = alert.match
    source, rules = _chat_facts(alert)
    lines = [f"**{markdown_text(story.title, CHAT_TITLE_CHARS)}**", "",
             f"Rules: {markdown_text(rules)}", "", f"Source: {markdown_text(source)}"]
    if (hit := _first_hit(alert)) is not None:
        lines += ["", f"> {as_markdown(snippet_of(story, hit))}"]
    if (href := markdown_href(story.url)) is not None:
        lines += ["", f"[Open the article]({href})"]
    return "\n".join(lines)


def _chat_html(alert: MatchAlert) -> str:
    story = alert.match
    source, rules = _chat_facts(alert)
    parts = [f"<b>{html_text(one_line(story.title, CHAT_TITLE_CHARS))}</b>",
             f"Rules: {html_text(rules)}", f"Source: {html_text(source)}"]
    if (hit := _first_hit(alert)) is not None:
        parts.append(f"<i>{as_html(snippet_of(story, hit), feed_mark)}</i>")
    if safe_href(story.url):
        parts.append(_link(story.url, "Open the article"))
    return "<br>\n".join(parts)


def _chat_text(alert: MatchAlert) -> str:
    story = alert.match
    source, rules = _chat_facts(alert)
    lines = [one_line(story.title, CHAT_TITLE_CHARS), f"Rules: {rules}", f"Source: {source}"]
    if (hit := _first_hit(alert)) is not None:
        lines.append(as_marked_text(snippet_of(story, hit)))
    if href := safe_href(story.url):
        lines.append(one_line(href))
    return "\n".join(lines)


def _digest_lines(digest: Digest) -> tuple[list[MatchAlert], int]:
    shown = list(digest.matches[:CHAT_DIGEST_MATCHES])
    return shown, len(digest.matches) - len(shown)


def _chat_digest_markdown(digest: Digest) -> str:
    shown, more = _digest_lines(digest)
    lines = [f"**{markdown_text(_digest_period(digest))}**", ""]
    for alert in shown:
        story = alert.match
        title = markdown_text(story.title, 120)
        href = markdown_href(story.url)
        head = f"[{title}]({href})" if href else title
        lines.append(f"- {head} ({markdown_text(_source_line(story.source))}; {markdown_text(', '.join(alert.rules))})")
    if more:
        lines.append(f"- … and {more} more")
    return "\n".join(lines)


def _chat_digest_html(digest: Digest) -> str:
    shown, more = _digest_lines(digest)
    items = [f"<li>{_link(a.match.url, one_line(a.match.title, 120))} "
             f"({html_text(_source_line(a.match.source))}; {html_text(', '.join(a.rules))})</li>" for a in shown]
    if more:
        items.append(f"<li>… and {more} more</li>")
    return f"<b>{html_text(_digest_period(digest))}</b>\n<ul>{''.join(items)}</ul>"


def _chat_digest_text(digest: Digest) -> str:
    shown, more = _digest_lines(digest)
    lines = [_digest_period(digest)]
    for alert in shown:
        story = alert.match
        link = f" {one_line(safe_href(story.url))}" if safe_href(story.url) else ""
        lines.append(f"- {one_line(story.title, 120)} ({_source_line(story.source)}; {', '.join(alert.rules)}){link}")
    if more:
        lines.append(f"- … and {more} more")
    return "\n".join(lines)


def _digest_period(digest: Digest) -> str:
    return f"{len(digest.matches)} matches from {when(digest.period_start)} to {when(digest.period_end)}"


_CHAT_MATCH = {"markdown": _chat_markdown, "html": _chat_html, "text": _chat_text}
_CHAT_DIGEST = {"markdown": _chat_digest_markdown, "html": _chat_digest_html, "text": _chat_digest_text}
