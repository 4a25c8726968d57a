"""What a source's URL turns out to be, and the entries it yields.

Operators paste a site's home page or its press page as often as a feed URL.
A document fetched for a source is read as:

* a feed, when it is one (the source read as it always was);
* otherwise, when it is an HTML page: the feed the page declares
  (`<link rel="alternate" type="application/rss+xml|atom+xml">`, the first that
  is not a comments feed), which the caller fetches and reads instead;
* otherwise, the page itself as a listing of articles (`monitor.ingest.listing`).

`resolve` decides from one fetched document and does no I/O (it runs in the
parse workers). `discover` is the same decision with the fetches around it, for
`monitor feeds discover`: the poller makes those fetches itself, so that they
share its limits, conditional requests and the record of each source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from monitor.errors import InputError
from monitor.ingest.feed import FeedError, ParsedFeed, parse_feed
from monitor.ingest.listing import ListingError, listing_feed
from monitor.ingest.webpage import looks_like_html, read_page
from monitor.items import Item

if TYPE_CHECKING:  # the parse workers import this module for `resolve` only
    from monitor.ingest.http import Fetcher

__all__ = ["Discovery", "Reading", "Resolved", "discover", "resolve"]

Reading = Literal["auto", "feed", "page"]
"""How a fetched document is read: "feed" must be a feed (a feed a page declared),
"page" is a listing page (`kind = "page"`), "auto" is a feed or else a page (discovery)."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What one document was read as. `declared_feed`: the page names its feed, read
    that instead (`parsed` is None then)."""

    read_as: Literal["feed", "page"]
    parsed: ParsedFeed | None
    declared_feed: str | None = None


def resolve(
    body: bytes, headers: Mapping[str, str], *, source: str, url: str, reading: Reading = "auto",
    selector: str | None = None,
) -> Resolved:
    """Read one fetched document (`url`: where it came from, redirects followed).
    InputError (FeedError, PageError, ListingError) when nothing can be read from it."""
    if reading == "page":
        return Resolved("page", listing_feed(read_page(body, headers, url), source=source, selector=selector))
    if reading == "feed" or not _starts_like_html(body):
        try:
            return Resolved("feed", parse_feed(body, headers, source=source, url=url))
        except FeedError:
            if reading == "feed" or not looks_like_html(body, headers):
                raise
    page = read_page(body, headers, url)
    if page.feeds:
        return Resolved("page", None, declared_feed=page.feeds[0].url)
    try:
        return Resolved("page", listing_feed(page, source=source, selector=selector))
    except ListingError as exc:
        raise FeedError(f"not a feed: an HTML page that declares no feed, and a {exc}") from exc


def _starts_like_html(body: bytes) -> bool:
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:256].lower()
    return head.startswith((b"<!doctype html", b"<html"))


@dataclass(frozen=True, slots=True)
class Discovery:
    """What `monitor feeds discover` found at `url`."""

    url: str
    read_as: Literal["feed", "page"]
    title: str | None
    entries: list[Item]
    feed_url: str | None = None  # the feed that would be polled (the URL itself, or the one declared)
    declared_by: str | None = None  # the page that declared it
    problem: str | None = None
    article_url: str | None = None  # the first entry's article, fetched and extracted
    article_text: str | None = None
    article_note: str | None = None  # why there is no article text
    declared: list[str] = field(default_factory=list)  # every feed the page declares


async def discover(fetcher: Fetcher, url: str, *, selector: str | None = None, page: bool = False) -> Discovery:
    """Fetch `url` and decide as the poller would; for a listing page, fetch and extract
    the first article too. InputError (FetchError among them) when nothing can be read."""
    fetched = await fetcher.fetch(url)
    assert fetched.body is not None  # no validators were sent: never a 304
    resolved = resolve(fetched.body, fetched.headers, source=url, url=fetched.url,
                       reading="page" if page else "auto", selector=selector)
    declared: list[str] = []
    if resolved.declared_feed is not None:
        declared = [f.url for f in read_page(fetched.body, fetched.headers, fetched.url).feeds]
        feed_url = resolved.declared_feed
        try:
            feed_doc = await fetcher.fetch(feed_url)
            assert feed_doc.body is not None
            parsed = resolve(feed_doc.body, feed_doc.headers, source=url, url=feed_doc.url, reading="feed").parsed
        except InputError as exc:
            raise InputError(f"{url} declares the feed {feed_url}, which cannot be read: {exc}") from exc
        assert parsed is not None
        return Discovery(url, "feed", parsed.title, parsed.items, feed_url=feed_url, declared_by=url,
                         problem=parsed.problem, declared=declared)
    parsed = resolved.parsed
    assert parsed is not None
    if resolved.read_as == "feed":
        return Discovery(url, "feed", parsed.title, parsed.items, feed_url=url, problem=parsed.problem)
    found = Discovery(url, "page", parsed.title, parsed.items, problem=parsed.problem)
    return await _with_first_article(fetcher, found)


async def _with_first_article(fetcher: Fetcher, found: Discovery) -> Discovery:
    """The listing's first article, extracted as the article step does."""
    from dataclasses import replace

    first = next((item.url for item in found.entries if item.url), None)
    if first is None:
        return found
    from monitor.ingest.article import extract_article
    from monitor.ingest.http import ACCEPT_HTML

    try:
        fetched = await fetcher.fetch(first, accept=ACCEPT_HTML)
    except InputError as exc:
        return replace(found, article_url=first, article_note=f"the article could not be fetched: {exc}")
    assert fetched.body is not None
    content_type = {k.lower(): v for k, v in fetched.headers.items()}.get("content-type", "")
    charset = content_type.partition("charset=")[2].strip(" \"'") or None
    article = extract_article(fetched.body, fetched.url, declared_encoding=charset)
    if article is None:
        return replace(found, article_url=first, article_note="no article text could be extracted from it")
    return replace(found, article_url=first, article_text=article.text)
