"""parse_feed: feed documents (bytes + response headers) to Items."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.ingest import FeedError, ParsedFeed, parse_feed
from monitor.normalize import normalize

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Ministry of Foreign Affairs</title>
  <link>https://mfa.example/</link>
  <language>en-gb</language>
  <ttl>30</ttl>
  <item>
    <title>Minister meets High Commissioner</title>
    <link>https://mfa.example/news/1</link>
    <guid isPermaLink="false">mfa-news-1</guid>
    <pubDate>Mon, 04 Nov 2024 10:00:00 +0300</pubDate>
    <description>Short teaser.</description>
    <content:encoded><![CDATA[<p>The minister met the <b>High Commissioner</b> in Geneva.</p><p>They discussed the UPR.</p>]]></content:encoded>
  </item>
  <item>
    <title>Second item</title>
    <link>https://mfa.example/news/2</link>
    <description>Only a description here, and it is the text.</description>
  </item>
</channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>OHCHR</title>
  <link href="https://www.ohchr.org/"/>
  <id>urn:ohchr:feed</id>
  <updated>2024-03-12T09:00:00Z</updated>
  <entry>
    <title>Le Haut-Commissaire ouvre la session</title>
    <id>urn:ohchr:1</id>
    <link href="/fr/news/1"/>
    <updated>2024-03-12T09:00:00Z</updated>
    <published>2024-03-11T08:00:00+01:00</published>
    <summary>Court.</summary>
    <content type="html">&lt;p&gt;Texte long du communiqu\xc3\xa9 sur l&amp;#8217;EPU.&lt;/p&gt;</content>
  </entry>
</feed>
"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://mfa.example/rss">
    <title>MFA RDF</title><link>https://mfa.example/</link><description>d</description>
    <dc:language>en</dc:language>
  </channel>
  <item rdf:about="https://mfa.example/news/9">
    <title>Universal Periodic Review</title>
    <link>https://mfa.example/news/9</link>
    <description>About the UPR.</description>
    <dc:date>2024-11-04T10:00:00+03:00</dc:date>
  </item>
</rdf:RDF>
"""


def _rss_1251(declared: bool) -> bytes:
    declaration = '<?xml version="1.0" encoding="windows-1251"?>' if declared else ""
    return (
        declaration
        + """<rss version="2.0"><channel><title>МИД России</title><link>https://mid.example/</link>
        <item><title>Заявление официального представителя МИД</title><link>https://mid.example/1</link>
        <description>Совет ООН по правам человека</description></item></channel></rss>"""
    ).encode("cp1251")


def test_rss2() -> None:
    feed = parse_feed(RSS, {"Content-Type": "application/rss+xml; charset=utf-8"}, source="https://mfa.example/rss")
    assert isinstance(feed, ParsedFeed)
    assert (feed.title, feed.link, feed.ttl_seconds, feed.problem) == (
        "Ministry of Foreign Affairs", "https://mfa.example/", 1800, None,
    )  # fmt: skip
    first, second = feed.items
    assert first.source == "https://mfa.example/rss"
    assert first.guid == "mfa-news-1"
    assert first.url == "https://mfa.example/news/1"
    assert first.title == "Minister meets High Commissioner"
    assert "<b>High Commissioner</b>" in first.text  # content:encoded beats the shorter summary
    assert first.published == datetime(2024, 11, 4, 7, 0, tzinfo=UTC)
    assert first.language == "en-gb"
    assert first.origin == "Ministry of Foreign Affairs"
    assert first.flags == ()
    assert second.guid == "https://mfa.example/news/2"  # no guid: the link
    assert second.text == "Only a description here, and it is the text."
    assert second.published is None


def test_atom() -> None:
    headers = {"Content-Type": "application/atom+xml", "Content-Location": "https://www.ohchr.org/fr/feed.atom"}
    feed = parse_feed(ATOM, headers, source="ohchr")
    (item,) = feed.items
    assert item.guid == "urn:ohchr:1"
    assert item.url == "https://www.ohchr.org/fr/news/1"  # relative link resolved via Content-Location
    assert item.text == "<p>Texte long du communiqué sur l&#8217;EPU.</p>"  # HTML: normalize() converts it
    assert normalize(item).text == "Texte long du communiqué sur l’EPU."
    assert item.published == datetime(2024, 3, 11, 7, 0, tzinfo=UTC)
    assert item.language == "fr"
    assert feed.ttl_seconds is None


def test_rss1_rdf() -> None:
    feed = parse_feed(RDF, {}, source="rdf")
    (item,) = feed.items
    assert (item.guid, item.url, item.title) == (
        "https://mfa.example/news/9", "https://mfa.example/news/9", "Universal Periodic Review",
    )  # fmt: skip
    assert item.published == datetime(2024, 11, 4, 7, 0, tzinfo=UTC)
    assert item.language == "en"
    assert feed.title == "MFA RDF"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/xml"}, {"Content-Type": "application/xml; charset=utf-8"}],
    ids=["no-headers", "text-xml-without-charset", "wrong-http-charset"],
)
def test_windows_1251_declared_in_xml(headers: dict[str, str]) -> None:
    feed = parse_feed(_rss_1251(declared=True), headers, source="mid")
    assert feed.title == "МИД России"
    assert feed.items[0].title == "Заявление официального представителя МИД"
    assert feed.items[0].text == "Совет ООН по правам человека"


def test_windows_1251_declared_in_http_charset() -> None:
    feed = parse_feed(_rss_1251(declared=False), {"content-type": "application/rss+xml; charset=windows-1251"}, source="mid")
    assert feed.items[0].title == "Заявление официального представителя МИД"
    assert feed.problem is None and feed.items[0].flags == ()


def test_undeclared_encoding_is_detected_and_flagged() -> None:
    feed = parse_feed(_rss_1251(declared=False), {}, source="mid")
    assert feed.items[0].title == "Заявление официального представителя МИД"
    assert feed.problem is not None and "decoded as" in feed.problem
    assert "encoding-guessed" in feed.items[0].flags


def test_utf8_body_served_as_latin1_is_read_as_utf8() -> None:
    body = _rss_1251(declared=False).decode("cp1251").encode("utf-8")
    feed = parse_feed(body, {"Content-Type": "text/xml; charset=ISO-8859-1"}, source="mid")
    assert feed.title == "МИД России"


def test_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Error</title></head><body><p>Not found</p></body></html>"
    with pytest.raises(FeedError, match=r"not a feed: looks like an HTML page \(text/html\)"):
        parse_feed(page, {"Content-Type": "text/html; charset=utf-8"}, source="s")


@pytest.mark.parametrize("body", [b"", b"  \r\n\t", b"\xef\xbb\xbf\n"])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(FeedError, match="empty body"):
        parse_feed(body, {}, source="s")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"items": [1, 2]}', "not a feed: looks like JSON"),
        (b"\x00\x01\x02garbage\xff\xfe", "not a feed"),
        (b"<config><option/></config>", "not a feed: no RSS, Atom or RDF"),
    ],
)
def test_other_documents_are_not_feeds(body: bytes, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        parse_feed(body, {}, source="s")


def test_body_is_never_used_as_a_path_or_url(tmp_path: Path) -> None:
    """feedparser opens paths and fetches URLs it is given; we only ever give it data."""
    real_feed = tmp_path / "feed.xml"
    real_feed.write_bytes(RSS)
    for body in (str(real_feed).encode(), b"https://127.0.0.1:9/feed.xml"):
        with pytest.raises(FeedError, match="not a feed: not XML"):
            parse_feed(body, {}, source="s")


def test_malformed_feed_with_entries_is_kept_and_flagged() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title>'
        b"<item><title>OHCHR & ILO</title><link>https://x.example/1</link></item>"
        b"<item><title>Second</title><link>https://x.example/2</link></item>"
    )  # bare "&", and the document is never closed
    feed = parse_feed(body, {}, source="s")
    assert feed.problem
    assert [item.title for item in feed.items] == ["OHCHR & ILO", "Second"]
    assert all(item.flags == ("malformed-feed",) for item in feed.items)


def test_well_formed_feed_has_no_problem() -> None:
    feed = parse_feed(RSS, {"Content-Type": "text/plain"}, source="s")  # a wrong media type is not a problem
    assert feed.problem is None
    assert all(item.flags == () for item in feed.items)


def test_feed_without_entries_is_valid() -> None:
    feed = parse_feed(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>', {}, source="s")
    assert (feed.title, feed.items) == ("Quiet", [])


def _without_id(title: str, summary: str) -> bytes:
    return (
        f'<rss version="2.0"><channel><title>t</title><item><title>{title}</title>'
        f"<description>{summary}</description></item></channel></rss>"
    ).encode()


def test_entry_without_guid_or_link_gets_a_stable_guid() -> None:
    (a,) = parse_feed(_without_id("Statement", "Text one"), {}, source="s").items
    (again,) = parse_feed(_without_id("Statement", "Text one"), {}, source="s").items
    (b,) = parse_feed(_without_id("Statement", "Text two"), {}, source="s").items
    assert a.guid.startswith("sha256:") and len(a.guid) == len("sha256:") + 64
    assert a.guid == again.guid
    assert a.guid != b.guid
    assert a.url is None


@pytest.mark.parametrize(("ttl", "seconds"), [("<ttl>60</ttl>", 3600), ("<ttl>soon</ttl>", None), ("", None)])
def test_ttl(ttl: str, seconds: int | None) -> None:
    body = f'<rss version="2.0"><channel><title>t</title>{ttl}<item><title>x</title></item></channel></rss>'
    assert parse_feed(body.encode(), {}, source="s").ttl_seconds == seconds


HOSTILE_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>
<item>
  <title>&lt;script&gt;evil(1)&lt;/script&gt;OHCHR &lt;b&gt;statement&lt;/b&gt;</title>
  <guid>a</guid>
  <description>&lt;p&gt;Teaser&lt;SCRIPT type="text/javascript"&gt;evil(2)&lt;/SCRIPT&gt;&lt;/p&gt;</description>
  <content:encoded><![CDATA[<div><p onclick="evil(3)">The High Commissioner spoke.</p><script>document.write("<p>evil(4)</p>")</script><style>p { color: red }</style><iframe src="https://evil.example/">evil(5)</iframe><img src=x onerror="evil(6)"><svg onload="evil(7)"><script>evil(8)</script></svg><p>Second paragraph.</p></div>]]></content:encoded>
</item>
<item><title>Unclosed</title><guid>b</guid><description>&lt;p&gt;Before.&lt;script&gt;evil(9)</description></item>
</channel></rss>
"""

HOSTILE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>a</title><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated>
<entry><id>urn:a:1</id><title type="html">&lt;script&gt;evil(10)&lt;/script&gt;ILO report</title>
<updated>2026-01-01T00:00:00Z</updated>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>XHTML <em>body</em>.</p><script>evil(11)</script></div></content>
</entry></feed>
"""

_TAG = re.compile(r"<\s*/?\s*[A-Za-z!?]")


@pytest.mark.parametrize("body", [HOSTILE_RSS, HOSTILE_ATOM], ids=["rss", "atom"])
def test_script_and_markup_never_reach_the_stored_text(body: bytes) -> None:
    """feedparser's sanitizer is off (parse_feed): normalize() alone must make text of
    every entry, dropping scripts, styles, iframes and svg with their content."""
    for raw in parse_feed(body, {}, source="s").items:
        item = normalize(raw)
        for stored in (item.title, item.text):
            assert not _TAG.search(stored), stored
            assert "evil(" not in stored and "color: red" not in stored, stored


def test_hostile_entries_keep_their_readable_text() -> None:
    first, second = (normalize(i) for i in parse_feed(HOSTILE_RSS, {}, source="s").items)
    assert first.title == "OHCHR statement"
    assert first.text == "The High Commissioner spoke.\n\nSecond paragraph."
    assert second.text == "Before."
    (atom,) = (normalize(i) for i in parse_feed(HOSTILE_ATOM, {}, source="s").items)
    assert (atom.title, atom.text) == ("ILO report", "XHTML body.")


# --- links as the publisher meant them ----------------------------------------

RELATIVE_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>UN News</title><link>/en/</link>
  <item><title>Root-relative</title><link>/en/story/2026/12/1</link><description>One.</description></item>
  <item><title>Path-relative</title><link>story/2</link><description>Two.</description></item>
  <item><title>Up a level</title><link>../fr/story/3</link><description>Three.</description></item>
  <item><title>Absolute</title><link>https://news.un.org/en/story/4</link><description>Four.</description></item>
  <item><title>Not a page</title><link>mailto:press@un.org</link><description>Five.</description></item>
</channel></rss>
"""
RESOLVED = ["https://news.un.org/en/story/2026/12/1", "https://news.un.org/en/feed/story/2",
            "https://news.un.org/en/fr/story/3", "https://news.un.org/en/story/4", "mailto:press@un.org"]


@pytest.mark.parametrize("reader", ["plain", "feedparser"])
def test_relative_links_are_resolved_against_the_url_the_feed_came_from(reader: str) -> None:
    from monitor.ingest.feed import _with_feedparser

    final = "https://news.un.org/en/feed/rss.xml"  # where the configured URL redirected to
    if reader == "plain":
        feed = parse_feed(RELATIVE_RSS, {}, source="https://un.example/rss", url=final)
    else:
        feed = _with_feedparser(RELATIVE_RSS, RELATIVE_RSS.decode(), {}, source="https://un.example/rss", base=final,
                                encoding_problem=None)
    assert [i.url for i in feed.items] == RESOLVED
    assert feed.link == "https://news.un.org/en/"
    # The guid of an entry without one stays the link as written: the entry stored
    # before links were resolved is still the same entry.
    assert [i.guid for i in feed.items][:3] == ["/en/story/2026/12/1", "story/2", "../fr/story/3"]


def test_without_a_url_the_feed_key_is_the_base_and_a_replayed_file_keeps_its_links() -> None:
    assert parse_feed(RELATIVE_RSS, {}, source="https://news.un.org/en/rss.xml").items[1].url == \
        "https://news.un.org/en/story/2"
    assert parse_feed(RELATIVE_RSS, {}, source="replay:un.xml").items[1].url == "story/2"


XML_BASE_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/en/">
  <title>UN News</title><id>urn:un:news</id><updated>2026-12-06T00:00:00Z</updated>
  <entry xml:base="news/"><title>Entry base under feed base</title><id>urn:un:1</id>
    <updated>2026-12-06T00:00:00Z</updated><link href="x.html"/></entry>
  <entry><title>Feed base only</title><id>urn:un:2</id><updated>2026-12-06T00:00:00Z</updated>
    <link href="story/y.html"/></entry>
  <entry xml:base="https://press.un.org/"><title>Absolute entry base</title><id>urn:un:3</id>
    <updated>2026-12-06T00:00:00Z</updated><link href="z.html"/></entry>
</feed>
"""
XML_BASE_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xml:base="https://www.ohchr.org/en/"><channel><title>OHCHR</title>
  <item><title>a</title><link>press-releases/2026/12/a</link><guid>ohchr-a</guid></item>
  <item xml:base="/fr/"><title>b</title><link>communiques/b</link><guid>ohchr-b</guid></item>
</channel></rss>
"""


def test_xml_base_of_the_feed_and_of_each_entry_chains_down_to_the_documents_url() -> None:
    feed = parse_feed(XML_BASE_ATOM, {}, source="https://un.example/atom", url="https://news.un.org/feed/atom.xml")
    assert [i.url for i in feed.items] == [
        "https://news.un.org/en/news/x.html", "https://news.un.org/en/story/y.html", "https://press.un.org/z.html"]
    assert [i.guid for i in feed.items] == ["urn:un:1", "urn:un:2", "urn:un:3"]
    rss = parse_feed(XML_BASE_RSS, {}, source="https://un.example/rss")
    assert [i.url for i in rss.items] == ["https://www.ohchr.org/en/press-releases/2026/12/a",
                                          "https://www.ohchr.org/fr/communiques/b"]
