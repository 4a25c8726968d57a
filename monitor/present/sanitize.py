"""Untrusted text made safe for one kind of output, one function per kind.

Anything a feed, a remote server or an exception message carried is untrusted:
a title can hold line breaks meant to forge a log line or a mail header,
terminal escape sequences, markup, or characters an XML document cannot carry.

| output                          | function      |
| ------------------------------- | ------------- |
| a terminal line (the CLI)       | `printable`   |
| a log line (logfmt, JSON)       | `log_value`   |
| a mail line                     | `one_line`    |
| an email header                 | `header_text` (after `one_line`) |
| HTML (email, dashboard)         | `html_text`   |
| a link target in HTML or Atom   | `safe_href`   |
| XML (the Atom feed)             | `xml_text`    |
| Markdown (chat alerts)          | `markdown_text`, `markdown_href` |
| a spreadsheet cell (CSV export) | `csv_cell`    |

Jinja's autoescape and `monitor.present.snippets` escape with the same
function as `html_text` (markupsafe's).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

from monitor.secrets import redact_urls

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BREAKS = re.compile(r"[\t\n\r]")
_WHITESPACE = re.compile(r"\s+")
# Characters XML 1.0 forbids outright; feed text does carry them (form feeds,
# vertical tabs, stray NULs), and one of them makes a whole Atom document invalid.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text: str | None) -> str:
    """Text safe for one terminal line: line breaks and tabs as spaces, other
    controls shown escaped (`\\x1b`), so output can neither be forged nor repainted,
    and no credentials in URLs (`monitor.secrets.redact_urls`)."""
    if not text:
        return ""
    return _CONTROLS.sub(_escape, _BREAKS.sub(" ", redact_urls(text)))


def log_value(text: str) -> str:
    """A log field that stays on its line: every control escaped, a newline
    shown as `\\n`, so a hostile feed cannot forge a log line."""
    return _CONTROLS.sub(_escape, text) if _CONTROLS.search(text) else text


def one_line(text: str | None, limit: int | None = None) -> str:
    """Printable, single-line text for an email header (and any line of a
    message): controls (CR, LF, NUL, bidi overrides, line/paragraph
    separators…) become spaces, runs collapse, and past `limit` it ends in `…`.
    Headers are then only ever set through the stdlib `email` package."""
    if not text:
        return ""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    cleaned = _WHITESPACE.sub(" ", cleaned).strip()
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


def html_text(text: str | None) -> Markup:
    """Text for HTML, escaped (quotes too, so it is safe in an attribute)."""
    return escape(text or "")


def safe_href(url: str | None) -> str | None:
    """A feed-supplied URL fit for a link: http(s) only, else None. Escaping
    alone would leave a `javascript:` link clickable."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return url.strip() if scheme in ("http", "https") else None


def xml_text(value: object) -> str:
    """Plain text without the characters XML cannot carry (still to be escaped:
    this returns a plain `str`, which autoescape then escapes)."""
    return _XML_ILLEGAL.sub("", str(value))


# Markdown punctuation Python-Markdown (what Apprise converts with) and chat
# services read as markup. `<`, `>` and `&` become entities instead: Markdown
# passes raw HTML through, and a backslash does not escape `<`.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")
_MARKDOWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_text(text: str | None, limit: int | None = None) -> str:
    """Untrusted text as one line of Markdown that renders as exactly that text:
    no emphasis, link, heading, list, table or HTML can come out of it."""
    return markdown_escape(one_line(text, limit))


def markdown_escape(text: str) -> str:
    """The escaping of `markdown_text` alone, spaces kept as they are: for
    pieces of a line already made one line (the runs of a snippet)."""
    text = "".join(_MARKDOWN_ENTITIES.get(ch, ch) for ch in text)
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def markdown_href(url: str | None) -> str | None:
    """A feed-supplied URL fit for `[label](…)`: http(s) only (`safe_href`), and
    every character that could end the link or open markup percent-encoded."""
    href = safe_href(url)
    if href is None:
        return None
    return quote(one_line(href), safe="/:?#@!$&'*+,;=%~-._")\
        .replace("'", "%27").replace("*", "%2A").replace("!", "%21")


# A spreadsheet reads a cell starting with one of these as a formula (OWASP
# "CSV injection"): `=HYPERLINK(…)` in a feed title must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str | None) -> str:
    """Text for one CSV cell that a spreadsheet shows as text, never evaluates:
    a leading `'` before anything a formula could start with."""
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text
