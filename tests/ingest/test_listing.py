"""Listing pages and discovery, from the pages of the local test site
(tests/ingest/site/): which links are articles, which feed a page declares."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.ingest.discovery import resolve
from monitor.ingest.feed import FeedError
from monitor.ingest.listing import ListingError, article_links, parse_listing
from monitor.ingest.webpage import PageError, read_page
from tests.feedserver import feed_xml

SITE = Path(__file__).parent / "site"
HTML = {"Content-Type": "text/html"}
PRESS = "https://mfa.example/en/press/"

SEMANTIC_ARTICLES = [
    "https://mfa.example/en/press/2024/03/foreign-minister-addresses-the-human-rights-council.html",
    "https://mfa.example/en/press/2024/03/statement-on-the-upr-working-group.html",
    "https://mfa.example/en/press/2024/03/deputy-minister-meets-ilo-director-general.html",
    "https://mfa.example/en/press/2024/03/consultations-with-the-eu.html",
    "https://mfa.example/en/press/2024/03/briefing-by-the-spokesperson.html",
    "https://mfa.example/en/press/2024/03/condolences.html",
]
DIVSOUP_ARTICLES = [f"https://labour.example/news/view.php?id={n}" for n in (20417, 20416, 20415, 20414)]


def page_bytes(name: str) -> bytes:
    return (SITE / name).read_bytes()


def links_of(body: bytes, url: str, selector: str | None = None) -> list[tuple[str, str]]:
    return [(link.url, link.title) for link in article_links(read_page(body, HTML, url), selector)]


def test_a_semantic_listing_yields_its_articles_and_nothing_of_menus_banner_sidebar_pager_or_footer() -> None:
    links = links_of(page_bytes("press-semantic.html"), PRESS)

    assert [url for url, _ in links] == SEMANTIC_ARTICLES  # the featured story, then the list, in page order
    titles = dict(links)
    # the headline, never "Read more"; one-word headlines of the list count too
    assert titles[SEMANTIC_ARTICLES[1]] == "Statement on the adoption of the UPR Working Group report"
    assert titles[SEMANTIC_ARTICLES[-1]] == "Condolences"


def test_a_div_soup_listing_yields_its_articles_and_not_the_most_read_box_beside_them() -> None:
    links = links_of(page_bytes("press-divsoup.html"), "https://labour.example/news/")

    assert [url for url, _ in links] == DIVSOUP_ARTICLES
    # declared only in <meta http-equiv>: windows-1252
    assert dict(links)[DIVSOUP_ARTICLES[2]] == "Café workers’ rights: new guidance published"


@pytest.mark.parametrize(("name", "url", "expected"), [
    ("press-semantic.html", PRESS, SEMANTIC_ARTICLES),
    ("press-divsoup.html", "https://labour.example/news/", DIVSOUP_ARTICLES),
])
def test_a_changed_menu_banner_or_footer_changes_nothing(name: str, url: str, expected: list[str]) -> None:
    changed = page_bytes(name)
    for old, new in CHANGES:
        changed = changed.replace(old, new)
    assert changed != page_bytes(name)

    assert [u for u, _ in links_of(changed, url)] == expected


CHANGES = [  # a new campaign banner, new menu entries, a new footer link (both pages)
    (b"/en/campaigns/human-rights-75-join-the-global-campaign.html",
     b"/en/campaigns/2025/international-labour-conference-side-event-registration.html"),
    (b"Human Rights 75: join the global campaign for dignity and justice",
     b"International Labour Conference: register for the side event on decent work"),
    (b'<li><a href="/en/contact.html">Contact</a></li>',
     b'<li><a href="/en/contact.html">Contact</a></li><li><a href="/en/careers/2025/vacancies-at-the-ministry.html">'
     b"Vacancies at the ministry for young diplomats</a></li>"),
    (b"/news/campaigns/decent-work-week-2024-register-now.html", b"/news/campaigns/ilo-centenary-exhibition-opens.html"),
    (b"Decent Work Week 2024: register now for the national forum", b"ILO centenary exhibition opens in the capital"),
    (b'<div class="menu-item"><a href="/contacts">Contacts</a></div>',
     b'<div class="menu-item"><a href="/contacts">Contacts</a></div><div class="menu-item">'
     b'<a href="/agency/2025/open-positions-in-the-labour-inspectorate">Open positions in the labour inspectorate</a></div>'),
    (b'<a href="/agency/privacy">Privacy</a>',
     b'<a href="/agency/privacy">Privacy</a> | <a href="/agency/2025/report-on-the-accessibility-of-this-website">'
     b"Report on the accessibility of this website</a>"),
]


def test_a_css_selector_overrides_the_automatic_choice() -> None:
    links = links_of(page_bytes("press-semantic.html"), PRESS, "aside.sidebar li")

    assert [title for _, title in links] == [
        "Minister at the high-level event on Human Rights 75",
        "The country presents its national report to the UPR",
        "Agreement with the ILO on decent work signed",
    ]
    assert links_of(page_bytes("press-semantic.html"), PRESS, "div.news-list h3 a") == [
        (url, title) for url, title in links_of(page_bytes("press-semantic.html"), PRESS)[1:]
    ]


def test_a_listing_becomes_entries_with_the_link_as_guid_and_the_anchor_as_title_and_no_body() -> None:
    parsed = parse_listing(page_bytes("press-semantic.html"), HTML, source=PRESS, url=PRESS)

    assert parsed.title == "Press releases | Ministry of Foreign Affairs"
    first, upr = parsed.items[:2]
    assert (upr.guid, upr.url, upr.text, upr.language) == (SEMANTIC_ARTICLES[1], SEMANTIC_ARTICLES[1], "", "en")
    assert upr.published is not None and upr.published.isoformat() == "2024-03-14T09:30:00+00:00"
    assert first.published is None  # no time next to the featured story: the poll's time counts


def test_a_home_page_names_its_feed_resolved_against_the_page_and_comment_feeds_come_last() -> None:
    resolved = resolve(page_bytes("home-declares-feed.html"), HTML, source="https://mission.example/site/",
                       url="https://mission.example/site/")

    assert resolved.parsed is None
    assert resolved.declared_feed == "https://mission.example/site/feed/press.xml"


def test_a_base_element_moves_where_relative_links_point() -> None:
    body = page_bytes("home-declares-feed.html").replace(b"<head>", b'<head><base href="https://cdn.example/m/">')
    page = read_page(body, HTML, "https://mission.example/site/")
    assert page.feeds[0].url == "https://cdn.example/m/feed/press.xml"


def test_a_feed_stays_a_feed_even_served_as_text_html() -> None:
    body = feed_xml([{"title": "ILO statement", "link": "https://mfa.example/1", "guid": "1"}])
    resolved = resolve(body, HTML, source="https://mfa.example/rss", url="https://mfa.example/rss")
    assert resolved.read_as == "feed" and [i.title for i in resolved.parsed.items] == ["ILO statement"]


def test_a_page_that_declares_nothing_and_lists_nothing_is_not_a_feed_and_says_what_to_try() -> None:
    with pytest.raises(FeedError, match="not a feed: an HTML page that declares no feed") as caught:
        resolve(page_bytes("declares-nothing.html"), HTML, source="https://x.example/", url="https://x.example/")
    assert "links =" in str(caught.value)
    with pytest.raises(ListingError, match="selects no link"):
        resolve(page_bytes("press-semantic.html"), HTML, source=PRESS, url=PRESS, reading="page",
                selector="table.nothing a")


@pytest.mark.parametrize("body", [b'{"items": []}', b"\x89PNG\r\n\x1a\n\x00\x00", b"plain text, no markup"])
def test_what_is_not_html_is_refused_as_a_page(body: bytes) -> None:
    with pytest.raises(PageError):
        resolve(body, {"Content-Type": "application/octet-stream"}, source=PRESS, url=PRESS, reading="page")
    with pytest.raises(FeedError):  # and read as a source of unknown kind it stays "not a feed"
        resolve(body, {"Content-Type": "application/octet-stream"}, source=PRESS, url=PRESS)


def test_a_page_as_deep_as_it_is_long_is_read_or_refused_without_harm() -> None:
    deep = b"<html><body>" + b"<div>" * 50_000 + b'<a href="/news/2024/a-long-headline-of-the-day">A long headline of the day</a>'
    links = links_of(deep, "https://deep.example/news/")
    assert links in ([], [("https://deep.example/news/2024/a-long-headline-of-the-day", "A long headline of the day")])
