"""WebSub discovery: the hub and the topic a feed names, from its Link header or its
own links, as absolute http(s) URLs; anything else is no hub at all."""

from __future__ import annotations

import pytest

from monitor.ingest import parse_feed
from tests.ingest.test_plainrss import assert_read_as_feedparser_reads, rss

SOURCE = "https://mfa.example/rss.xml"
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>OHCHR</title><id>urn:x</id>{links}
<entry><title>t</title><id>urn:x:1</id><updated>2024-03-12T09:00:00Z</updated></entry></feed>"""


def atom(links: str) -> bytes:
    return ATOM.format(links=links).encode()


def hub_and_self(body: bytes, headers: dict[str, str] | None = None) -> tuple[str | None, str | None]:
    parsed = parse_feed(body, headers or {}, source=SOURCE)
    return parsed.hub, parsed.self_url


def test_an_atom_feed_names_its_hub_and_itself() -> None:
    body = atom('<link rel="hub" href="https://hub.example/"/><link rel="self" href="https://www.ohchr.org/atom"/>'
                '<link href="https://www.ohchr.org/"/>')
    assert hub_and_self(body) == ("https://hub.example/", "https://www.ohchr.org/atom")


def test_an_rss_feed_names_them_with_atom_links_and_is_still_read_quickly() -> None:
    body = rss("<item><title>t</title></item>",
               channel='<title>MFA</title><link>https://mfa.example/</link>'
                       '<atom:link rel="hub" href="https://pubsubhubbub.example/"/>'
                       '<atom:link rel="self" href="https://mfa.example/rss.xml" type="application/rss+xml"/>')
    assert_read_as_feedparser_reads(body)  # the quick reader, and exactly what feedparser gives
    assert hub_and_self(body) == ("https://pubsubhubbub.example/", "https://mfa.example/rss.xml")


def test_without_a_hub_there_is_none() -> None:
    assert hub_and_self(atom('<link rel="self" href="https://www.ohchr.org/atom"/>')) == (
        None, "https://www.ohchr.org/atom")
    assert hub_and_self(rss("<item><title>t</title></item>")) == (None, None)


def test_the_link_header_comes_first() -> None:
    body = atom('<link rel="hub" href="https://doc-hub.example/"/><link rel="self" href="https://a.example/doc"/>')
    header = '<https://header-hub.example/>; rel="hub", <https://a.example/header>; rel=self'
    assert hub_and_self(body, {"Link": header}) == ("https://header-hub.example/", "https://a.example/header")
    # a header naming only the hub keeps the document's self
    assert hub_and_self(body, {"Link": '<https://h.example/>; rel="hub"'}) == (
        "https://h.example/", "https://a.example/doc")
    # relation lists, other relations, and a header with no hub
    assert hub_and_self(body, {"Link": '<https://n.example/>; rel="next", <https://h2.example/>; rel="hub self"'}) == (
        "https://h2.example/", "https://h2.example/")
    assert hub_and_self(body, {"Link": '<https://n.example/>; rel="next"'}) == (
        "https://doc-hub.example/", "https://a.example/doc")


def test_relative_links_are_resolved_against_the_feed_url() -> None:
    assert hub_and_self(atom('<link rel="hub" href="/hub"/>')) == ("https://mfa.example/hub", None)


@pytest.mark.parametrize("href", [
    "javascript:alert(1)", "ftp://hub.example/", "file:///etc/passwd", "https://", "", "   ",
    "https://hub.example/" + "a" * 2100, "https://hub.example/a b", "https://hub.example/\x07",
    "http://[::1",
])
def test_a_hub_that_is_not_an_http_url_is_no_hub(href: str) -> None:
    from xml.sax.saxutils import quoteattr

    hub, _ = hub_and_self(atom(f"<link rel=\"hub\" href={quoteattr(href)}/>"))
    assert hub is None


def test_the_first_usable_hub_wins() -> None:
    body = atom('<link rel="hub" href="mailto:x@y"/><link rel="hub" href="https://one.example/"/>'
                '<link rel="hub" href="https://two.example/"/>')
    assert hub_and_self(body)[0] == "https://one.example/"
