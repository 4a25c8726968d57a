"""plainrss: plain RSS 2.0 is read exactly as feedparser reads it, and nothing else is read at all.

Every accepted document is checked side by side: `parse_feed` (which takes the
quick reader) must give the same ParsedFeed, item for item and field for
field, as the feedparser path. Declined documents must be declined, so they
keep feedparser's handling.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from bench.corpus import PressWriter, feed_document, feed_items
from monitor.ingest import parse_feed
from monitor.ingest.feed import _decode, _http_charset, _with_feedparser
from monitor.ingest.plainrss import read
from tests.feedserver import feed_xml
from tests.ingest.test_feed import RSS

NS = (' xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
      ' xmlns:atom="http://www.w3.org/2005/Atom" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"')


def rss(items: str, channel: str = "<title>MFA</title><link>https://mfa.example/</link>") -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{NS}><channel>{channel}{items}</channel></rss>'.encode()


def by_feedparser(body: bytes, headers: Mapping[str, str]) -> object:
    lowered = {k.lower(): v for k, v in headers.items()}
    text, problem = _decode(body, _http_charset(lowered.get("content-type", "")))
    return _with_feedparser(body, text, lowered, source="test", encoding_problem=problem)


def assert_read_as_feedparser_reads(body: bytes, headers: Mapping[str, str] | None = None) -> None:
    headers = headers or {}
    text, _ = _decode(body, _http_charset(headers.get("content-type", "")))
    assert read(text, {k.lower(): v for k, v in headers.items()}) is not None, "the quick reader declined"
    assert parse_feed(body, headers, source="test") == by_feedparser(body, headers)


# --- accepted: the same result as feedparser --------------------------------

ACCEPTED = {
    "the test suite's RSS": RSS,
    "the test feed server's RSS": feed_xml([
        {"guid": "seed-1", "title": "OHCHR & the \"UPR\"", "link": "https://press.example/1?a=1&b=2",
         "description": "Text <b>bold</b>", "pubDate": "Mon, 04 Nov 2024 10:00:00 GMT"},
        {"title": "No guid", "link": "https://press.example/2"},
    ]),
    "permalink guid, no link": rss("<item><title>t</title><guid>https://mfa.example/1</guid></item>"),
    "guid not a permalink, no link": rss('<item><title>t</title><guid isPermaLink="false">id-1</guid></item>'),
    "relative permalink guid": rss("<item><title>t</title><guid>press-20</guid></item>"),
    "isPermaLink written True": rss('<item><title>t</title><guid isPermaLink="True">https://a.example/x</guid></item>'),
    "guid before link": rss("<item><guid>https://a.example/g</guid><link>https://a.example/l</link></item>"),
    "no guid, no link": rss("<item><title>Only a title</title><description>and words</description></item>"),
    "nothing but a title": rss("<item><title>t</title></item>"),
    "empty elements": rss("<item><title></title><link></link><guid></guid><description/><pubDate/></item>"),
    "query string in link": rss("<item><link>https://a.example/?a=1&amp;b=2&amp;amp;c=3</link></item>"),
    "entity-like text in link": rss("<item><link>https://a.example/?x=1&amp;copy;y</link></item>"),
    "content before description": rss(
        "<item><title>t</title><content:encoded><![CDATA[<p>long long text</p>]]></content:encoded>"
        "<description>short</description></item>"),
    "description longer than content": rss(
        "<item><title>t</title><description>a much longer description</description>"
        "<content:encoded>short</content:encoded></item>"),
    "content only": rss("<item><content:encoded>&lt;p&gt;escaped &amp;amp; markup&lt;/p&gt;</content:encoded></item>"),
    "whitespace and line breaks": rss("<item><title>\n  Spaced\r\n title \u00a0</title><link>\n https://a.example/1 \n</link></item>"),
    "C1 controls (windows-1252 text in disguise)": rss("<item><title>\u0093quoted\u0094 \u0080 5</title></item>"),
    "UTF-8 read as Latin-1 and encoded again": rss("<item><title>R\u00c3\u00a9publique</title></item>"),
    "comment inside a text": rss("<item><title>High <!-- note --> Commissioner</title></item>"),
    "dates of many shapes": rss(
        "<item><title>a</title><pubDate>Mon, 04 Nov 2024 10:00:00 +0300</pubDate></item>"
        "<item><title>b</title><pubDate>2024-11-04T10:00:00Z</pubDate></item>"
        "<item><title>c</title><pubDate>4 Nov 2024</pubDate></item>"
        "<item><title>d</title><pubDate>not a date</pubDate></item>"
        "<item><title>e</title><pubDate>Tue, 31 Feb 2024 10:00:00 GMT</pubDate></item>"),
    "inert children": rss(
        '<item><title>t</title><category>news</category><author>a@b.example</author><comments>https://c</comments>'
        '<enclosure url="https://a.example/x.jpg" length="1" type="image/jpeg"/><dc:creator>Press</dc:creator></item>'),
    "channel furniture": rss(
        "<item><title>t</title></item>",
        channel='<title>MFA</title><link>https://mfa.example/?a=1&amp;amp;b</link><description>d</description>'
                '<atom:link href="https://mfa.example/rss" rel="self" type="application/rss+xml"/>'
                "<image><url>https://mfa.example/logo.png</url><title>Logo</title><link>https://x.example/</link></image>"
                "<sy:updatePeriod>hourly</sy:updatePeriod><ttl> 45 </ttl><lastBuildDate>x</lastBuildDate>"),
    "WebSub hub and self": rss(
        "<item><title>t</title></item>",
        channel='<title>MFA</title><link>https://mfa.example/</link>'
                '<atom:link rel="hub" href=" https://hub.example/?a=1&amp;b=2 "/><atom:link rel="HUB" href="rel/hub"/>'
                '<atom:link rel="self" href="https://mfa.example/rss"/><atom:link rel=" hub " href="https://x/"/>'),
    "channel title after the items": rss("<item><title>t</title></item>", channel="<link>https://m.example/</link>")
    .replace(b"</channel>", b"<title>Late title</title></channel>"),
    "empty channel": rss("", channel="<title>Nothing yet</title>"),
    "empty language element": rss("<item><title>t</title></item>", channel="<title>T</title><language></language>"),
    "language element": rss("<item><title>t</title></item><item><link>https://a/1</link></item>",
                            channel="<title>T</title><language>ru</language>"),
    "no XML declaration": rss("<item><title>t</title></item>").split(b"\n", 1)[1],
    "comment before the root": rss("<item><title>t</title></item>").replace(b"\n", b"\n<!-- generated -->\n", 1),
}


@pytest.mark.parametrize("body", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_plain_rss_is_read_as_feedparser_reads_it(body: bytes) -> None:
    assert_read_as_feedparser_reads(body)


@pytest.mark.parametrize("headers", [
    {"Content-Language": "en_US"},
    {"Content-Language": " fr "},
    {"Content-Type": "text/xml"},
    {"Content-Type": "application/rss+xml; charset=ISO-8859-1"},
])
def test_headers_count_as_they_do_for_feedparser(headers: dict[str, str]) -> None:
    for body in (RSS, ACCEPTED["language element"], ACCEPTED["empty language element"], ACCEPTED["nothing but a title"]):
        assert_read_as_feedparser_reads(body, headers)


def test_guessed_encoding_is_flagged_as_with_feedparser() -> None:
    body = rss("<item><title>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e \u00e0 Gen\u00e8ve</title></item>").decode()
    body_latin1 = body.replace(' encoding="utf-8"', "").encode("latin-1")
    assert_read_as_feedparser_reads(body_latin1)
    assert parse_feed(body_latin1, {}, source="test").problem


def test_benchmark_feeds_are_read_as_feedparser_reads_them() -> None:
    writer = PressWriter()
    for number in range(5):
        assert_read_as_feedparser_reads(feed_document(number, feed_items(writer, number, 20)))


def test_random_mixtures_of_item_children() -> None:
    """300 feeds mixing the children an item may have, in any order and with awkward values."""
    texts = ["", " ", "Plain words", "<b>markup</b> &amp; entities", "R\u00c3\u00a9sum\u00c3\u00a9",
             "\u0080\u0099 C1", "  padded\n", "https://a.example/?q=1&amp;r=2", "&amp;amp;x;"]
    children = [
        lambda v: f"<title>{v}</title>",
        lambda v: f"<link>{v}</link>",
        lambda v: f"<link>https://a.example/{v.strip()}</link>",
        lambda v: f"<guid>{v}</guid>",
        lambda v: f'<guid isPermaLink="false">{v}</guid>',
        lambda v: f"<description>{v}</description>",
        lambda v: f"<description><![CDATA[{v}]]></description>",
        lambda v: f"<content:encoded>{v}</content:encoded>",
        lambda v: f"<pubDate>Wed, 0{len(v) % 9 + 1} Jan 2025 1{len(v) % 10}:00:00 +0100</pubDate>",
        lambda v: f"<category>{v}</category>",
    ]
    rng = random.Random(6)
    checked = 0
    for _ in range(300):
        items = ""
        for _ in range(rng.randint(1, 4)):
            chosen = rng.sample(range(len(children)), rng.randint(1, 6))
            if sum(1 for c in chosen if c in (1, 2)) > 1 or sum(1 for c in chosen if c in (3, 4)) > 1 or \
                    sum(1 for c in chosen if c in (5, 6)) > 1:
                continue  # one of each kind: duplicates are declined (tested below)
            items += "<item>" + "".join(children[c](rng.choice(texts)) for c in chosen) + "</item>"
        body = rss(items)
        text, _ = _decode(body, None)
        if read(text, {}) is None:  # raw "<b>" makes markup elements: declined, as tested below
            continue
        assert parse_feed(body, {}, source="test") == by_feedparser(body, {})
        checked += 1
    assert checked > 150  # about two in three documents have no raw markup


# --- declined: left to feedparser ---------------------------------------------

DECLINED = {
    "Atom": b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>',
    "RDF": b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
    "a DOCTYPE (entities)": b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel/></rss>',
    "an undefined entity": rss("<item><title>caf&eacute;</title></item>"),
    "malformed": rss("<item><title>unclosed</item>"),
    "xml:base": rss("<item><title>t</title></item>").replace(b"<channel>", b'<channel xml:base="https://b/">'),
    "xml:lang": rss('<item><title xml:lang="fr">t</title></item>'),
    "an unknown item child": rss("<item><title>t</title><dc:date>2024-01-01</dc:date></item>"),
    "an unknown channel child": rss("<textInput><title>Search</title></textInput>"),
    "markup as elements": rss("<item><description><p>not escaped</p></description></item>"),
    "two titles": rss("<item><title>a</title><title>b</title></item>"),
    "two channel links": rss("", channel="<link>https://a/</link><link>https://b/</link>"),
    "a type attribute": rss('<item><description type="text/plain">t</description></item>'),
    "a link feedparser rewrites": rss("<item><link>https:///a.example/x</link></item>"),
    "an alternate atom:link": rss("", channel='<atom:link href="https://a.example/"/>'),
    "an atom:link without href (feedparser reads its text)": rss("", channel='<atom:link rel="hub"/>'),
    "windows-1251 declared": rss("<item><title>t</title></item>").replace(b"utf-8", b"windows-1251"),
    "RSS 0.91": rss("<item><title>t</title></item>").replace(b'version="2.0"', b'version="0.91"'),
    "a default namespace": rss("").replace(b'<rss version="2.0"', b'<rss version="2.0" xmlns="urn:x"'),
}


@pytest.mark.parametrize("body", list(DECLINED.values()), ids=list(DECLINED))
def test_anything_else_is_left_to_feedparser(body: bytes) -> None:
    text, _ = _decode(body, None)
    assert read(text, {}) is None


def test_a_content_location_header_is_left_to_feedparser() -> None:
    text, _ = _decode(RSS, None)
    assert read(text, {"content-location": "https://mfa.example/rss"}) is None
