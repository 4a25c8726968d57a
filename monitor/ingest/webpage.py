"""An HTML page as fetched: decoded, parsed, and what it says about itself (its
title, its language, the feeds it declares).

lxml parses (libxml2's HTML parser: lenient with tag soup, never fetches
anything, about 10x faster than BeautifulSoup on our fixtures; see
`bench/pages.py`), and `cssselect` turns an operator's `links` selector into
XPath. The whole-article extractor parses with lxml too, so one parser serves
every page.

The bytes are decoded here, not by libxml2: a byte-order mark first, then the
HTTP charset, then `<meta charset>` (or its http-equiv form) in the first
kilobytes, then UTF-8, and only then a detected encoding.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import lxml.html
from lxml import etree

from monitor.errors import InputError

__all__ = ["DeclaredFeed", "PageError", "WebPage", "absolute_url", "looks_like_html", "read_page"]

MAX_URL: Final = 2048
#: `<link rel="alternate">` types that name a feed we can read.
FEED_TYPES: Final = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
_HTML_MEDIA: Final = ("text/html", "application/xhtml+xml")
_META_CHARSET: Final = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_XML_DECLARATION: Final = re.compile(r"^\s*<\?xml[^>]*\?>")  # lxml refuses it in a str
_HTTP_CHARSET: Final = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


class PageError(InputError):
    """The body is not an HTML page we can read."""


@dataclass(frozen=True, slots=True)
class DeclaredFeed:
    """A feed the page names in its head: `<link rel="alternate" type="application/rss+xml">`."""

    url: str
    title: str | None
    media_type: str


@dataclass(frozen=True, slots=True)
class WebPage:
    """A parsed page. `base` is what its relative links resolve against (`<base href>`,
    else the URL it was fetched from)."""

    url: str
    base: str
    title: str | None
    language: str | None
    root: lxml.html.HtmlElement
    feeds: tuple[DeclaredFeed, ...]


def looks_like_html(body: bytes, headers: Mapping[str, str]) -> bool:
    """Served as HTML, or starts like an HTML document whatever it is served as."""
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() in _HTML_MEDIA:
        return True
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1024].lower()
    return head.startswith((b"<!doctype html", b"<html")) or (b"<html" in head and not head.startswith(b"<?xml"))


def read_page(body: bytes, headers: Mapping[str, str], url: str) -> WebPage:
    """Decode and parse one fetched page; PageError if it is not HTML."""
    if not looks_like_html(body, headers):
        raise PageError("not an HTML page")
    lowered = {k.lower(): v for k, v in headers.items()}
    text = _XML_DECLARATION.sub("", _decode(body, _http_charset(lowered.get("content-type", ""))), count=1)
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise PageError(f"not an HTML page we can read: {exc}") from exc
    base = url
    for href in root.xpath("//base/@href")[:1]:
        base = absolute_url(str(href), url) or url
    title = " ".join(" ".join(root.xpath("//title[1]//text()")).split()) or None
    language = (root.get("lang") or lowered.get("content-language") or "").strip() or None
    return WebPage(url, base, title, language, root, _declared_feeds(root, base))


def _declared_feeds(root: lxml.html.HtmlElement, base: str) -> tuple[DeclaredFeed, ...]:
    """The feeds the page declares, in document order, comment feeds last."""
    found: list[DeclaredFeed] = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        media_type = (link.get("type") or "").split(";", 1)[0].strip().lower()
        if "alternate" not in rels or media_type not in FEED_TYPES:
            continue
        url = absolute_url(link.get("href") or "", base)
        if url is not None and all(f.url != url for f in found):
            title = " ".join((link.get("title") or "").split()) or None
            found.append(DeclaredFeed(url, title, media_type))
    return tuple(sorted(found, key=lambda f: "comment" in (f.title or "").lower()))


def absolute_url(href: str, base: str) -> str | None:
    """`href` resolved against `base`, without its fragment; None unless http(s)."""
    href = href.strip()
    if not href or len(href) > MAX_URL or any(ord(c) < 32 or ord(c) == 127 for c in href):
        return None
    try:
        url = urljoin(base, href).split("#", 1)[0]
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        return None
    return url.replace(" ", "%20")


def _http_charset(content_type: str) -> str | None:
    m = _HTTP_CHARSET.search(content_type)
    return m.group(1) if m else None


def _decode(body: bytes, http_charset: str | None) -> str:
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", errors="replace")
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", errors="replace")
    meta = _META_CHARSET.search(body[:4096])
    for name in (http_charset, meta.group(1).decode("ascii") if meta else None, "utf-8"):
        if name is None:
            continue
        try:
            return body.decode(codecs.lookup(name).name)
        except (LookupError, UnicodeDecodeError):
            continue
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    return body.decode(best.encoding if best is not None else "windows-1252", errors="replace")
