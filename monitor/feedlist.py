"""The operator's list of feeds: inline in the config and in OPML files, the
format every feed reader imports and exports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from monitor.config import Config
from monitor.errors import ConfigError
from monitor.secrets import SecretError, redact_url, resolve
from monitor.store.feeds import FeedState, ListedFeed

FULLTEXT_MODES = ("auto", "always", "never")


def listed_feeds(config: Config) -> list[ListedFeed]:
    """Every feed the config names, inline first, then each OPML file in order.
    A URL listed twice counts once (the first listing wins)."""
    feeds: dict[str, ListedFeed] = {}
    for entry in config.settings.feeds:
        url = _check_url(entry.url, f"{config.path}: key 'feeds'")
        feeds.setdefault(url, ListedFeed(url, entry.title, str(config.path), entry.interval_s, entry.kind,
                                         entry.links, entry.fulltext, entry.robots))
    for opml in config.settings.opml:
        path = opml if opml.is_absolute() else config.base_dir / opml
        for feed in read_opml(path):
            feeds.setdefault(feed.url, feed)
    return list(feeds.values())


def feed_headers(config: Config) -> dict[str, dict[str, str]]:
    """The request headers of each inline feed that has any (its credentials), read
    from their secret references; ConfigError names the file and key of one that
    cannot be read."""
    found: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(config.settings.feeds):
        values = {}
        for name, ref in entry.headers.items():
            try:
                values[name] = resolve(ref)
            except SecretError as exc:
                raise ConfigError(f"{config.path}: key 'feeds[{index}].headers.{name}': {exc}") from exc
        if values:
            found.setdefault(entry.url.strip(), values)
    return found


def read_opml(path: Path) -> list[ListedFeed]:
    try:
        root = ET.fromstring(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read OPML: {exc.strerror or exc}") from exc
    except ET.ParseError as exc:
        raise ConfigError(f"{path}: not valid OPML/XML: {exc}") from exc
    if root.tag != "opml" or root.find("body") is None:
        raise ConfigError(f"{path}: not an OPML document (no <opml><body>)")
    feeds = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url is None:
            continue  # a folder
        where = f"{path}: outline {outline.get('text') or url!r}"
        url = _check_url(url.strip(), where)
        feeds.append(ListedFeed(url, outline.get("title") or outline.get("text"), str(path),
                                _interval(outline.get("interval_s"), where), _kind(outline.get("kind"), where),
                                _links(outline.get("links"), where), _fulltext(outline.get("fulltext"), where),
                                _robots(outline.get("robots"), where)))
    return feeds


def write_opml(feeds: Sequence[FeedState], *, include_disabled: bool = False) -> bytes:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "press-monitor feeds"
    ET.SubElement(head, "dateCreated").text = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(root, "body")
    for feed in feeds:
        if not feed.enabled and not include_disabled:
            continue
        url = redact_url(feed.url)  # credentials belong in [[feeds]] headers, as secret references
        title = feed.title or url
        outline = ET.SubElement(body, "outline", type="rss", text=title, title=title, xmlUrl=url)
        if feed.configured_interval_s:
            outline.set("interval_s", str(feed.configured_interval_s))
        if feed.source_kind != "feed":
            outline.set("kind", feed.source_kind)
        if feed.link_selector:
            outline.set("links", feed.link_selector)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _interval(value: str | None, where: str) -> int | None:
    """An outline's `interval_s` attribute: the operator's slower interval, in seconds."""
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"{where}: attribute 'interval_s' must be a whole number of seconds, not {value!r}")
    return int(value)


def _kind(value: str | None, where: str) -> str:
    """An outline's `kind` attribute: "feed" (default) or "page" (a listing page)."""
    if value is None or value.strip() == "feed":
        return "feed"
    if value.strip() != "page":
        raise ConfigError(f"{where}: attribute 'kind' must be \"feed\" or \"page\", not {value!r}")
    return "page"


def _links(value: str | None, where: str) -> str | None:
    """An outline's `links` attribute: a CSS selector of the page's article links."""
    if value is None or not value.strip():
        return None
    from monitor.ingest.listing import check_selector

    try:
        return check_selector(value.strip())
    except ValueError as exc:
        raise ConfigError(f"{where}: attribute 'links': {exc}") from exc


def _fulltext(value: str | None, where: str) -> str:
    """An outline's `fulltext` attribute: when to fetch its entries' articles."""
    if value is None:
        return "auto"
    if value.strip().lower() not in FULLTEXT_MODES:
        raise ConfigError(f"{where}: attribute 'fulltext' must be one of {', '.join(FULLTEXT_MODES)}, not {value!r}")
    return value.strip().lower()


def _robots(value: str | None, where: str) -> bool:
    """An outline's `robots` attribute: "false" lets its articles be fetched whatever robots.txt says."""
    if value is None:
        return True
    if value.strip().lower() not in ("true", "false"):
        raise ConfigError(f"{where}: attribute 'robots' must be true or false, not {value!r}")
    return value.strip().lower() == "true"


def _check_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}: {url!r} is not an http(s) URL")
    return url
