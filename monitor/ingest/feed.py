"""Turn a fetched RSS/Atom/RDF document into Items.

feedparser does the parsing, but only ever on bytes we already hold: given a
URL or a path it would fetch or open it itself, with no timeout and outside
our HTTP client's policy. The bytes are wrapped in a stream so that feedparser
can never mistake them for a file name either.

We decode the bytes ourselves and hand feedparser UTF-8: a byte-order mark
first, then the HTTP charset, then the XML declaration, then UTF-8, and only
then a detected encoding (flagged as a guess). feedparser's own RFC 3023 rules
read `text/xml` without a charset as US-ASCII and headers without a
Content-Type as ISO-8859-1, which garbles exactly the feeds we care about
(windows-1251 declared only in the XML declaration). Content-Language is the
fallback language.

Entry links are stored as the publisher meant them: a relative link
(`/en/news/x.html`, `news/x.html`, `../x`) is resolved against the entry's
`xml:base`, the feed's, the Content-Location header, and finally the URL the
document was fetched from (after redirects), as RFC 3986 chains them, before
anything stores, deduplicates or fetches it. The guid of an entry without one
stays the link as written: it only has to identify the entry within its feed,
and an entry stored before links were resolved keeps being recognised.

feedparser's HTML sanitizer and relative-URI resolver are switched off: they
were 40 % of its time, and nothing they produce survives. `normalize()` turns
every entry's HTML into plain text (dropping script, style, iframe, svg and the
like with their content), links inside the markup are not kept, and whatever
is shown (dashboard, alerts) is escaped. Entry and feed links are still
resolved against the document's base: feedparser does that separately.

Entity references are bounded before any parser sees the document
(`_check_entities`): feedparser keeps every internal entity whose value has no
`&` or `"` and both of its parsers expand each reference, and expat reads
declarations that feedparser's filter misses. A document may declare only flat
entities (no nesting, no parameter entities) and their references may make it
at most `limits.MAX_ENTITY_EXPANSION` times its size; anything else is a
FeedError. Only the first `limits.MAX_ENTRIES` entries of a document are read.

Plain RSS 2.0, which most press offices serve, is read by `plainrss` instead:
the same result at a tenth of the cost (see there).

A document may name a WebSub hub that pushes its updates: an HTTP `Link`
header, else a `<link rel="hub">` (Atom) or `<atom:link rel="hub">` (RSS),
with `rel="self"` beside it naming the topic. `ParsedFeed.hub` and
`ParsedFeed.self_url` carry them, absolute http(s) URLs or None; they are
untrusted like everything else in the document.

feedparser is lenient: it still returns entries from a broken document and
sets `bozo`. We keep such entries (losing a press release because a feed has a
stray `&` would be worse) but say so: `ParsedFeed.problem` carries the message
and the items are flagged. A document that yields nothing and is not a feed at
all (an HTML error page, JSON, an empty body) is a `FeedError`, so the poller
can back off and the operator sees why.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import io
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import feedparser

from monitor import limits
from monitor.dedupe.urls import resolve_link
from monitor.errors import InputError
from monitor.ingest import plainrss
from monitor.items import Item

__all__ = ["FeedError", "ParsedFeed", "parse_feed"]

MALFORMED: Final = "malformed-feed"
ENCODING_GUESSED: Final = "encoding-guessed"



class FeedError(InputError):
    """The body is not a feed we can read; the message says why."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document: its own metadata and one Item per entry."""

    title: str | None
    link: str | None
    items: list[Item]
    ttl_seconds: int | None = None  # from RSS <ttl>, which is in minutes
    problem: str | None = None  # why the document is malformed, or how its encoding was guessed
    hub: str | None = None  # the WebSub hub that pushes this feed's updates
    self_url: str | None = None  # the feed's own URL as it states it (rel="self"): the WebSub topic


def parse_feed(body: bytes, headers: Mapping[str, str], *, source: str, url: str | None = None) -> ParsedFeed:
    """Parse one fetched feed document; raise FeedError if it is not a feed.

    `url`: where the document came from after redirects, the base of its relative
    links (default: `source`, when that is an http(s) URL)."""
    if not body.lstrip(_WHITESPACE_AND_BOM):
        raise FeedError("empty body")
    lowered = {k.lower(): v for k, v in headers.items()}
    text, encoding_problem = _decode(body, _http_charset(lowered.get("content-type", "")))
    _check_entities(text)
    flags = (ENCODING_GUESSED,) if encoding_problem else ()
    base = url or source
    plain = plainrss.read(text, lowered)
    if plain is not None:  # plain RSS 2.0, read as feedparser would but 10x faster
        return _from_plain(plain, lowered, source=source, base=base, flags=flags, problem=encoding_problem)
    return _with_feedparser(body, text, lowered, source=source, base=base, encoding_problem=encoding_problem)


def _from_plain(
    plain: plainrss.PlainFeed, headers: Mapping[str, str], *, source: str, base: str, flags: tuple[str, ...],
    problem: str | None,
) -> ParsedFeed:
    feed_title = _clean(plain.title)
    feed_language = _clean(plain.language) or _clean(headers.get("content-language"))
    entry_language = _clean(plain.entry_language)
    entries, problem = _first_entries(plain.entries, problem)
    items = [
        Item(
            source=source,
            guid=_clean(entry.guid) or _clean(entry.link) or _content_guid(entry.title, entry.summary),
            url=resolve_link(_clean(entry.link), base),
            title=entry.title,
            text=entry.text,
            published=_utc(entry.published),
            language=(entry_language if entry.has_language else None) or feed_language,
            origin=feed_title,
            flags=flags,
        )
        for entry in entries
    ]
    hub, self_url = _websub_links(plain.links, headers, base)
    return ParsedFeed(
        title=feed_title, link=resolve_link(_clean(plain.link), base), items=items, ttl_seconds=_ttl_seconds(plain.ttl), problem=problem,
        hub=hub, self_url=self_url,
    )


def _with_feedparser(
    body: bytes, text: str, headers: Mapping[str, str], *, source: str, encoding_problem: str | None,
    base: str | None = None,
) -> ParsedFeed:
    content_type = headers.get("content-type", "")
    base = base or source
    location = resolve_link(_clean(headers.get("content-location")), base)
    if location is None and "xml:base" in text:
        # feedparser resolves xml:base only within an absolute base: "/en/" then "news/"
        # would lose the "news/". Given the document's URL, it chains them right. Only
        # then, as it also resolves entry ids against that base.
        location = base
    parsed = feedparser.parse(
        io.BytesIO(text.encode("utf-8")),
        response_headers={
            # Already decoded (see `_decode`): feedparser gets UTF-8 and is told so.
            "content-type": "application/xml; charset=utf-8",
            "content-location": location or "",
            "content-language": headers.get("content-language", ""),
        },
        sanitize_html=False,  # see the module docstring: normalize() makes text of it
        resolve_relative_uris=False,
    )

    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        raise FeedError(_not_a_feed(body, content_type, parsed))

    flags: tuple[str, ...] = ()
    problem: str | None = None
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if exc is not None:
        problem = f"{type(exc).__name__}: {exc}"
        if not entries:
            raise FeedError(f"malformed feed with no entries: {problem}")
        flags = (MALFORMED,)
    if encoding_problem is not None:
        problem = f"{encoding_problem}; {problem}" if problem else encoding_problem
        flags = (*flags, ENCODING_GUESSED)
    entries, problem = _first_entries(entries, problem)

    feed = parsed.get("feed") or {}
    feed_title = _clean(feed.get("title"))
    feed_language = _clean(feed.get("language")) or _clean(headers.get("content-language"))
    items = [
        _item(entry, source=source, base=base, origin=feed_title, language=feed_language, flags=flags)
        for entry in entries
    ]
    links = [(str(link.get("rel") or ""), str(link.get("href") or "")) for link in feed.get("links") or []]
    hub, self_url = _websub_links(links, headers, base)
    return ParsedFeed(
        title=feed_title,
        link=resolve_link(_clean(feed.get("link")), base),
        items=items,
        ttl_seconds=_ttl_seconds(feed.get("ttl")),
        problem=problem,
        hub=hub,
        self_url=self_url,
    )


T = TypeVar("T")


def _first_entries(entries: list[T], problem: str | None) -> tuple[list[T], str | None]:
    """At most `limits.MAX_ENTRIES` entries, and the problem saying so when there were more."""
    if len(entries) <= limits.MAX_ENTRIES:
        return entries, problem
    cut = f"{len(entries)} entries, only the first {limits.MAX_ENTRIES} are read"
    return entries[: limits.MAX_ENTRIES], f"{problem}; {cut}" if problem else cut


# --- entities ------------------------------------------------------------------

_ENTITY_DECL: Final = re.compile(r"<!ENTITY", re.IGNORECASE)
# A flat general entity: a name and a quoted value, nothing else.
_FLAT_ENTITY: Final = re.compile(r"""<!ENTITY\s+([^\s%"'>]+)\s+(?:"([^"]*)"|'([^']*)')\s*>""", re.IGNORECASE)
# In a value, `&` may only start a character reference or a predefined entity.
_VALUE_REFERENCE: Final = re.compile(r"&(?!#[0-9]+;|#x[0-9A-Fa-f]+;|(?:lt|gt|amp|apos|quot);)")
_REFERENCE: Final = re.compile(r"&([^\s&;<>\"']+);")


def _check_entities(text: str) -> None:
    """Raise FeedError unless entity references grow the document by at most its own
    size times `MAX_ENTITY_EXPANSION - 1`, whichever parser expands them.

    Every declaration anywhere in the document counts (a parser might read any of
    them), each reference at its value's full length, so the bound holds for
    expat, for feedparser's loose parser, and for anything it might fall back on.
    """
    if _ENTITY_DECL.search(text) is None:
        return
    declared = list(_FLAT_ENTITY.finditer(text))
    if len(declared) != len(_ENTITY_DECL.findall(text)):
        raise FeedError("document refused: it declares parameter, external or malformed entities")
    sizes: dict[str, int] = {}
    for match in declared:
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if _VALUE_REFERENCE.search(value):
            raise FeedError(f"document refused: entity {match.group(1)!r} refers to other entities")
        sizes[match.group(1)] = max(sizes.get(match.group(1), 0), len(value))
    growth = sum(sizes.get(name, 0) for name in _REFERENCE.findall(text))
    limit = (limits.MAX_ENTITY_EXPANSION - 1) * len(text)
    if growth > limit:
        raise FeedError(
            f"document refused: its entity references would add {growth} characters to its {len(text)} "
            f"(at most {limits.MAX_ENTITY_EXPANSION} times its size)"
        )


# --- WebSub discovery -------------------------------------------------------

MAX_URL: Final = 2048  # longer hub or topic URLs are ignored (and would not fit the database)
_LINK_VALUE: Final = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_LINK_REL: Final = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def _websub_links(
    document: Iterable[tuple[str, str]], headers: Mapping[str, str], source: str
) -> tuple[str | None, str | None]:
    """(hub, self) as WebSub discovery finds them: the `Link` header first, else the
    document's links (W3C WebSub 4); each absolute http(s), or None."""
    from_header = _header_links(headers.get("link", ""))
    hub = _first(from_header, "hub", source)
    if hub is not None:
        return hub, _first(from_header, "self", source) or _first(document, "self", source)
    return _first(document, "hub", source), _first(document, "self", source)


def _header_links(value: str) -> list[tuple[str, str]]:
    """(rel, href) pairs of an HTTP Link header (RFC 8288), one per relation type."""
    pairs = []
    for match in _LINK_VALUE.finditer(value):
        rel = _LINK_REL.search(match.group(2))
        if rel is not None:
            pairs += [(name, match.group(1)) for name in (rel.group(1) or rel.group(2) or "").lower().split()]
    return pairs


def _first(links: Iterable[tuple[str, str]], rel: str, source: str) -> str | None:
    """The first usable link of relation `rel`, resolved against the document's URL."""
    for name, href in links:
        if name.lower() == rel and (url := _absolute_http(href, source)) is not None:
            return url
    return None


def _absolute_http(href: str, base: str) -> str | None:
    href = href.strip()
    if not href or len(href) > MAX_URL or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in href):
        return None
    try:
        relative = not urlsplit(href).scheme and urlsplit(base).scheme in ("http", "https")
        url = urljoin(base, href) if relative else href
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        return None
    return url


# --- character encoding -----------------------------------------------------

_WHITESPACE_AND_BOM: Final = b" \t\r\n\xef\xbb\xbf"
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Without a byte-order mark, how an XML document in UTF-16/32 starts (`<?` or `<x`;
# XML 1.0 appendix F). ASCII in UTF-16 is valid UTF-8 too, full of NULs: look first.
_WIDE_STARTS: Final = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_XML_ENCODING: Final = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_HTTP_CHARSET: Final = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
# Server defaults that are often wrong: a body in valid UTF-8 served as one of
# these is UTF-8 (real Latin-1 text is almost never valid UTF-8 by accident).
_WEAK_CHARSETS: Final = frozenset({"iso8859-1", "latin-1", "ascii", "cp1252"})


def _http_charset(content_type: str) -> str | None:
    m = _HTTP_CHARSET.search(content_type)
    return m.group(1) if m else None


def _codec(name: str | None) -> str | None:
    """Python's name for a declared encoding, or None if unknown."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return "gb18030" if codec == "gb2312" else codec


def _try(body: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _decode(body: bytes, http_charset: str | None) -> tuple[str, str | None]:
    """Decode the document; the second value explains a guess, None if none was needed.

    Order: byte-order mark, UTF-16/32 told by the first bytes, HTTP charset, XML
    declaration, UTF-8 (the XML default); then charset-normalizer as a last
    resort, which counts as a guess.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom) and (text := _try(body, codec)) is not None:
            return text.lstrip("\ufeff"), None
    for start, codec in _WIDE_STARTS:
        if body.startswith(start) and (text := _try(body, codec)) is not None:
            return text, None
    declared = _XML_ENCODING.match(body[:1024])
    xml_charset = declared.group(1).decode("ascii") if declared else None
    xml_codec = _codec(xml_charset)
    http_codec = _codec(http_charset)
    if http_codec in _WEAK_CHARSETS and xml_codec in (None, "utf-8") and (text := _try(body, "utf-8")) is not None:
        return text, None
    for codec in (http_codec, xml_codec, "utf-8"):
        if (text := _try(body, codec)) is not None:
            return text, None
    best = charset_normalizer.from_bytes(body).best()
    guessed = best.encoding if best is not None else "windows-1252"
    named = " or ".join(n for n in (http_charset, xml_charset) if n)
    if named:
        problem = f"document does not decode as declared ({named}); decoded as {guessed}"
    else:
        problem = f"no encoding declared and not UTF-8; decoded as {guessed}"
    return body.decode(guessed, errors="replace"), problem


def _not_a_feed(body: bytes, content_type: str, parsed: Any) -> str:
    """Say what the document looks like instead of a feed."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    media = content_type.split(";", 1)[0].strip().lower()
    shown = f" ({media})" if media else ""
    if b"<html" in head or head.startswith(b"<!doctype html") or media in ("text/html", "application/xhtml+xml"):
        return f"not a feed: looks like an HTML page{shown}"
    if head[:1] in (b"{", b"[") or media.endswith("json"):
        return f"not a feed: looks like JSON{shown}"
    if not head.startswith(b"<"):
        return f"not a feed: not XML{shown}"
    reason = parsed.get("bozo_exception")
    detail = f": {reason}" if reason else ""
    return f"not a feed: no RSS, Atom or RDF document element{shown}{detail}"


def _item(
    entry: Any, *, source: str, base: str, origin: str | None, language: str | None, flags: tuple[str, ...]
) -> Item:
    title = entry.get("title") or ""
    text = _longest_text(entry)
    link = _clean(entry.get("link"))
    return Item(
        source=source,
        guid=_clean(entry.get("id")) or link or _content_guid(title, entry.get("summary") or ""),
        url=resolve_link(link, base),
        title=title,
        text=text,
        published=_published(entry),
        language=_entry_language(entry) or language,
        origin=origin,
        flags=flags,
    )


def _longest_text(entry: Any) -> str:
    """Feeds put the story in content:encoded, in summary, or both; take the fuller."""
    candidates = [c.get("value") or "" for c in entry.get("content") or []]
    candidates.append(entry.get("summary") or "")
    return max(candidates, key=len)


def _content_guid(title: str, summary: str) -> str:
    """A guid for an entry that has neither id nor link: stable across polls."""
    digest = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()
    return f"sha256:{digest}"


def _published(entry: Any) -> datetime | None:
    return _utc(entry.get("published_parsed") or entry.get("updated_parsed"))


def _utc(parsed: time.struct_time | None) -> datetime | None:
    """feedparser normalizes dates to UTC struct_time; make them aware datetimes."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _entry_language(entry: Any) -> str | None:
    for key in ("content", "summary_detail", "title_detail"):
        detail = entry.get(key)
        if isinstance(detail, list):
            detail = detail[0] if detail else None
        if detail and (lang := _clean(detail.get("language"))):
            return lang
    return None


def _ttl_seconds(ttl: object) -> int | None:
    try:
        minutes = int(str(ttl).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None
