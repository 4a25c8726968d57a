"""A quick reader for the plain RSS 2.0 most press offices publish.

feedparser dominates a cold polling cycle, and the standard library's C XML
parser reads the same document ten times faster (figures: bench/README.md). So
a document that is plain, well-formed RSS 2.0 is read here, and everything else
(Atom, RDF, a DOCTYPE, an undefined entity, an element or attribute this module
does not know, xml:base or xml:lang, a Content-Location header) goes to
feedparser. A relative link is kept as written, as feedparser keeps it without
a base; `feed.py` resolves both readers' links against the document's URL.

"Plain" is defined by what feedparser would do with it: for every document
this reader accepts, `read` gives exactly the entries, fields and values that
`feed.py` gets from feedparser (with sanitizing and URI resolution off), which
tests/ingest/test_plainrss.py checks side by side. The rules copied from
feedparser are marked where they are applied. When in doubt, decline: `read`
returns None, which only costs time.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from feedparser.datetimes import _parse_date  # feedparser's lenient date parser, so dates agree

__all__ = ["PlainEntry", "PlainFeed", "read"]

_CONTENT: Final = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC_CREATOR: Final = "{http://purl.org/dc/elements/1.1/}creator"
_ATOM_LINK: Final = "{http://www.w3.org/2005/Atom}link"
_SY: Final = "{http://purl.org/rss/1.0/modules/syndication/}"

# Children that carry nothing we read, and that feedparser keeps away from the fields we read.
_INERT_ITEM: Final = frozenset({"category", "author", "comments", "enclosure", _DC_CREATOR})
_INERT_CHANNEL: Final = frozenset({
    "description", "lastBuildDate", "pubDate", "generator", "docs", "managingEditor", "webMaster",
    "copyright", "category", "image", "skipHours", "skipDays", "cloud", "rating",
    _SY + "updatePeriod", _SY + "updateFrequency", _SY + "updateBase",
})
_ITEM_TEXT: Final = ("title", "link", "description", "guid", "pubDate", _CONTENT)

# Only an XML declaration and comments may come before <rss>: no DOCTYPE, so no entities.
_PROLOG: Final = re.compile(r"\A\s*(?:<\?xml\b[^>]*\?>\s*)?(?:<!--(?:(?!-->).)*-->\s*)*<rss[\s>]", re.DOTALL)
_XML_DECLARED: Final = re.compile(r"""\A\s*<\?xml\b[^>]*\bencoding\s*=\s*["']([^"']+)["']""")
# feedparser turns `&name;` left in a link's text into `&name` (a query string read as an entity).
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_LINK_ENTITY: Final = re.compile(r"&([A-Za-z0-9_]+);")
# feedparser maps C1 controls to the characters windows-1252 has there (0x80 -> euro sign).
_CP1252: Final = {
    code: char for code in range(0x80, 0xA0) if (char := bytes([code]).decode("cp1252", "ignore"))
}
_C1: Final = re.compile("[\x80-\x9f]")


@dataclass(frozen=True, slots=True)
class PlainEntry:
    title: str
    text: str  # the fuller of content:encoded and description
    link: str | None
    guid: str | None
    summary: str  # what feedparser calls the summary: the input to a content guid
    published: time.struct_time | None  # in UTC
    has_language: bool  # feedparser records a language only with a title, description or content


@dataclass(frozen=True, slots=True)
class PlainFeed:
    title: str | None
    link: str | None
    language: str | None  # <language>, else the Content-Language header
    entry_language: str | None  # feedparser gives entries the header's language, not <language>
    ttl: str | None
    entries: list[PlainEntry]
    links: tuple[tuple[str, str], ...] = ()  # (rel, href) of the channel's atom:links, as feedparser lists them


class _Decline(Exception):
    """Not plain RSS 2.0: leave the document to feedparser."""


def read(text: str, headers: Mapping[str, str]) -> PlainFeed | None:
    """The feed in `text` (already decoded), or None if feedparser should read it.

    `headers` are lower-cased response headers.
    """
    if headers.get("content-location") or not _PROLOG.match(text):
        return None
    declared = _XML_DECLARED.match(text)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        return None  # feedparser is told UTF-8 and may note the disagreement; let it
    try:
        root = ET.fromstring(text)
        return _feed(root, headers)
    except (ET.ParseError, _Decline):
        return None


def _feed(root: ET.Element, headers: Mapping[str, str]) -> PlainFeed:
    _require(root.tag == "rss" and root.attrib == {"version": "2.0"} and len(root) == 1)  # 0.9x: feedparser
    channel = root[0]
    _require(channel.tag == "channel" and not channel.attrib)
    header_language = (headers.get("content-language") or "").replace("_", "-") or None
    fields: dict[str, str] = {}
    entries: list[PlainEntry] = []
    links: list[tuple[str, str]] = []
    for child in channel:
        tag = child.tag
        if tag == "item":
            entries.append(_entry(child))
        elif tag in ("title", "link", "language", "ttl"):
            _require(tag not in fields and not child.attrib and len(child) == 0)
            fields[tag] = _text(child)
        elif tag == _ATOM_LINK:
            rel = child.get("rel", "alternate").lower()  # feedparser lower-cases rel
            # Without href, feedparser reads the element's text as the channel's link.
            _require(rel != "alternate" and "href" in child.attrib and len(child) == 0)
            links.append((rel, child.attrib["href"]))
        else:
            _require(tag in _INERT_CHANNEL)
    link = fields.get("link")
    return PlainFeed(
        title=fields.get("title"),
        link=_LINK_ENTITY.sub(r"&\1", link) if link is not None else None,
        language=fields["language"] if "language" in fields else header_language,
        entry_language=header_language,
        ttl=fields.get("ttl"),
        entries=entries,
        links=tuple(links),
    )


def _entry(item: ET.Element) -> PlainEntry:
    _require(not item.attrib)
    values: dict[str, str] = {}
    guid_is_link = False
    for child in item:
        tag = child.tag
        if tag in _ITEM_TEXT:
            _require(tag not in values and len(child) == 0)
            if tag == "guid":
                names = {name.lower() for name in child.attrib}
                _require(names <= {"ispermalink"} and len(names) == len(child.attrib))
                guid_is_link = next(iter(child.attrib.values()), "true") == "true"
            else:
                _require(not child.attrib)
            values[tag] = _text(child)
        else:
            _require(tag in _INERT_ITEM)

    guid = values.get("guid")
    link = values.get("link")
    if link is not None:
        link = _LINK_ENTITY.sub(r"&\1", link.replace("&amp;", "&"))
    elif guid_is_link and guid is not None:
        link = guid  # feedparser: a permalink guid is the link of an item without one
    for url in (link, guid if guid_is_link else None):
        _require(url is None or "://" not in url or _absolute(url))

    content = values.get(_CONTENT)
    description = values.get("description")
    summary = description if description is not None else content
    candidates = ([content] if content is not None else []) + [summary or ""]
    date = values.get("pubDate")
    return PlainEntry(
        title=values.get("title", ""),
        text=max(candidates, key=len),
        link=link,
        guid=guid,
        summary=summary or "",
        published=_parse_date(date) if date else None,
        has_language=any(tag in values for tag in ("title", "description", _CONTENT)),
    )


def _text(element: ET.Element) -> str:
    """An element's text as feedparser hands it on (with its charset told as UTF-8)."""
    value = (element.text or "").strip()
    try:  # feedparser repairs UTF-8 that was read as Latin-1 and encoded again
        value = value.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return value.translate(_CP1252) if _C1.search(value) else value  # translate() is slow


def _absolute(url: str) -> bool:
    """feedparser rewrites `scheme:///x`; anything else with `://` it leaves alone."""
    scheme, _, rest = url.partition("://")
    return bool(_SCHEME.fullmatch(scheme)) and not rest.startswith("/")


def _require(condition: bool) -> None:
    if not condition:
        raise _Decline
