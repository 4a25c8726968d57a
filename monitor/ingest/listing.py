"""Which links of a listing page are its articles: a press page without a feed
becomes entries (the article's URL, the link's text as its title, no body; the
article step fetches the text).

A press page lists its releases as repeated blocks (a headline link, often a
date and a summary) among menus, language switchers, banners, sidebars,
pagination and footers. The automatic choice, in order:

1. The main area: `<main>` or `role="main"`, else an element whose id or class
   is main/content, else `<body>`.
2. In it, boilerplate is skipped: `nav`, `aside`, `form`, a `header` or
   `footer` outside an `article`, the ARIA roles of those, and elements whose id
   or class names a menu, footer, sidebar, breadcrumb, pager, share bar,
   language switcher, banner or cookie notice.
3. Candidates are links to the same site whose URL is shaped like an article (a
   slug of three words or more, a number of three digits or more, or a path
   three deep), not a file, not another page of the listing, not the page itself.
4. Candidates are grouped by their place in the tree (the tags and classes from
   the main area down): a listing's headlines share one. A group counts when
   most of its links read like headlines (three words or more); a lone link
   when it reads like one of four words or more. So a menu with one long entry
   still does not count, and neither does a column of "Read more" links.
5. When some counting group is made of blocks with a date or a summary, groups
   of bare links ("most read" boxes) are a sidebar and do not count.

A `links` CSS selector set by the operator replaces all of this: every link it
selects (or every link inside what it selects) is an article.

Every step is a pure function of the page; a page whose menu or banner changes
yields the same articles, and dedupe (same source and URL) keeps a link seen
before from becoming an item twice.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl, urlsplit

import lxml.html
from cssselect import SelectorError

from monitor import limits
from monitor.errors import InputError
from monitor.ingest.feed import ParsedFeed
from monitor.ingest.webpage import WebPage, absolute_url, read_page
from monitor.items import Item

__all__ = ["ArticleLink", "ListingError", "article_links", "check_selector", "parse_listing"]

Element = lxml.html.HtmlElement

_MAIN_IDS: Final = frozenset({"main", "content", "main-content", "maincontent", "primary", "page-content",
                              "main-column", "content-main", "site-content"})
_SKIPPED_TAGS: Final = frozenset({"nav", "aside", "form", "script", "style", "template", "noscript", "select"})
_SKIPPED_ROLES: Final = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu",
                                   "menubar"})
# Words in an id or class that mark boilerplate ("main-menu" has "menu"); "header" is
# not one of them, since teasers have "entry-header"s: only the whole name counts.
_SKIPPED_WORDS: Final = frozenset({
    "nav", "navbar", "navigation", "menu", "menubar", "submenu", "megamenu", "breadcrumb", "breadcrumbs",
    "footer", "sidebar", "widget", "widgets", "social", "share", "sharing", "languages", "language", "lang",
    "langs", "pagination", "pager", "paging", "cookie", "cookies", "consent", "banner", "skip", "masthead",
    "topbar", "toolbar", "subscribe", "newsletter", "sitemap", "login", "tagcloud", "related",
})
_SKIPPED_NAMES: Final = frozenset({"header", "site-header", "page-header", "top", "top-bar", "head"})
_FILE_EXTENSIONS: Final = frozenset({
    "pdf", "jpg", "jpeg", "png", "gif", "svg", "webp", "zip", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
    "odt", "rtf", "mp3", "mp4", "avi", "mov", "xml", "rss", "atom", "json", "css", "js", "ico", "txt", "csv",
})
_NOT_ARTICLES: Final = frozenset({
    "index", "home", "about", "contact", "contacts", "sitemap", "search", "login", "privacy", "terms", "rss",
    "feed", "feeds", "tag", "tags", "category", "categories", "archive", "archives", "author", "page",
})
_PAGER_KEYS: Final = frozenset({"page", "pg", "paged", "start", "offset", "pagenum", "page_no", "pageno"})
_PAGER_PATH: Final = re.compile(r"/page/\d+/?$")
_DIGITS: Final = re.compile(r"\d{3,}")
_WORD: Final = re.compile(r"\w+")
_WIDE: Final = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")  # scripts written without spaces
_DATE_TEXT: Final = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b\d{1,2}\s+[A-Za-zÀ-ÿ]{3,}\.?\s+\d{4}\b"
    r"|\b[A-Za-z]{3,}\.?\s+\d{1,2},\s+\d{4}\b|\d{4}年\d{1,2}月\d{1,2}日"
)
_READ_MORE: Final = frozenset({
    "read more", "more", "continue reading", "details", "full story", "en savoir plus", "lire la suite",
    "leer más", "seguir leyendo", "подробнее", "читать далее", "更多", "المزيد", "weiterlesen", "mehr",
})
SUMMARY_CHARS: Final = 40  # text beside the link in its block that makes it a teaser


class ListingError(InputError):
    """A listing page from which no article can be read; the message says what to try."""


@dataclass(frozen=True, slots=True)
class ArticleLink:
    """One article a listing page links to."""

    url: str
    title: str
    published: datetime | None = None  # a date with a time of day next to the link


def parse_listing(
    body: bytes, headers: Mapping[str, str], *, source: str, url: str, selector: str | None = None
) -> ParsedFeed:
    """A listing page as entries, one Item per article link (no text: the article
    step fetches it). `url`: where the page was fetched from (redirects followed).
    ListingError when no article link is found."""
    page = read_page(body, headers, url)
    return listing_feed(page, source=source, selector=selector)


def listing_feed(page: WebPage, *, source: str, selector: str | None = None) -> ParsedFeed:
    links = article_links(page, selector)
    if not links:
        how = f"its selector {selector!r} selects no link" if selector else "no link on it looks like an article"
        hint = "" if selector else ' (set links = "css selector" for this source)'
        raise ListingError(f"listing page without articles: {how}{hint}")
    problem = None
    if len(links) > limits.MAX_ENTRIES:
        problem = f"{len(links)} article links, only the first {limits.MAX_ENTRIES} are read"
        links = links[: limits.MAX_ENTRIES]
    items = [
        Item(source=source, guid=link.url, url=link.url, title=link.title, text="", published=link.published,
             language=page.language, origin=page.title)
        for link in links
    ]
    return ParsedFeed(title=page.title, link=page.url, items=items, problem=problem)


def check_selector(selector: str) -> str:
    """The selector if cssselect can read it; ValueError saying why not (config validation)."""
    from cssselect import GenericTranslator

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"not a CSS selector: {exc}") from exc
    return selector


def article_links(page: WebPage, selector: str | None = None) -> list[ArticleLink]:
    """The page's article links in document order, each URL once."""
    if selector:
        return _selected(page, selector)
    return _automatic(page)


# --- the operator's selector ------------------------------------------------------


def _selected(page: WebPage, selector: str) -> list[ArticleLink]:
    anchors: list[Element] = []
    for element in page.root.cssselect(selector):
        anchors += [element] if element.tag == "a" else list(element.iter("a"))
    own = _same_document(page.url)
    links: dict[str, ArticleLink] = {}
    for a in anchors:
        url = absolute_url(a.get("href") or "", page.base)
        if url is None or _same_document(url) == own:
            continue
        title = _text(a)
        if url not in links or len(title) > len(links[url].title):
            links[url] = ArticleLink(url, title, links[url].published if url in links else None)
    return list(links.values())


# --- the automatic choice ---------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    anchor: Element
    url: str
    text: str
    group: tuple[str, ...]


def _automatic(page: WebPage) -> list[ArticleLink]:
    main = _main_area(page.root)
    candidates = list(_candidates(page, main))
    blocks = _blocks(candidates, main)
    groups: dict[tuple[str, ...], list[_Candidate]] = defaultdict(list)
    for c in candidates:
        groups[c.group].append(c)
    counting = {key: members for key, members in groups.items() if _counts(members)}
    rich = {key for key, members in counting.items() if any(_is_rich(blocks[c.anchor], c) for c in members)}
    if rich:  # beside dated or summarised blocks, lists of bare links are sidebars
        counting = {key: m for key, m in counting.items() if key in rich or len({c.url for c in m}) == 1}
    chosen = {c.url for members in counting.values() for c in members}
    titles: dict[str, str] = {}
    for c in candidates:  # the best text any link to the article has ("Read more" loses)
        if c.url in chosen and _title_rank(c.text) > _title_rank(titles.get(c.url, "")):
            titles[c.url] = c.text
    ordered = dict.fromkeys(c.url for c in candidates if c.url in chosen)
    published = {c.url: _published(blocks[c.anchor]) for c in candidates if c.url in chosen}
    return [ArticleLink(url, titles.get(url, ""), published.get(url)) for url in ordered]


def _main_area(root: Element) -> Element:
    for element in root.iter("main"):
        return element
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if (element.get("role") or "").lower() == "main":
            return element
    for element in root.iter("div", "section", "td"):
        names = {(element.get("id") or "").lower(), *(element.get("class") or "").lower().split()}
        if names & _MAIN_IDS:
            return element
    body = root.find("body")
    return body if body is not None else root


def _candidates(page: WebPage, main: Element) -> Iterator[_Candidate]:
    own = _same_document(page.url)
    site = _site(page.url)
    skipped: dict[Element, bool] = {}  # elements as keys: an id() of an lxml proxy is not stable
    for a in main.iter("a"):
        url = absolute_url(a.get("href") or "", page.base)
        if url is None or _same_document(url) == own or not _same_site(_site(url), site):
            continue
        if not _article_shaped(url) or _in_boilerplate(a, main, skipped):
            continue
        yield _Candidate(a, url, _text(a), _group(a, main))


def _in_boilerplate(a: Element, main: Element, memo: dict[Element, bool]) -> bool:
    path: list[Element] = []
    element: Element | None = a
    verdict = False
    while element is not None and element is not main:
        if element in memo:
            verdict = memo[element]
            break
        path.append(element)
        if _is_boilerplate(element):
            verdict = True
            break
        element = element.getparent()
    for seen in path:  # every element below a boilerplate one is inside it
        memo[seen] = verdict
    return verdict


def _is_boilerplate(element: Element) -> bool:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in _SKIPPED_TAGS or (element.get("role") or "").lower() in _SKIPPED_ROLES:
        return True
    if tag in ("header", "footer") and not any(p.tag == "article" for p in element.iterancestors()):
        return True
    for name in (element.get("id") or "", *(element.get("class") or "").split()):
        name = name.lower()
        if name in _SKIPPED_NAMES or not _SKIPPED_WORDS.isdisjoint(re.split(r"[^a-z0-9]+", name)):
            return True
    return False


def _group(a: Element, main: Element) -> tuple[str, ...]:
    """Where the link sits: tags and classes (without numbers) from the main area down."""
    path = []
    for element in (a, *a.iterancestors()):
        if element is main:
            break
        classes = ".".join(sorted(c for c in (element.get("class") or "").split() if not any(d.isdigit() for d in c)))
        path.append(f"{element.tag}.{classes}" if classes else str(element.tag))
    return tuple(reversed(path))


def _blocks(candidates: list[_Candidate], main: Element) -> dict[Element, Element]:
    """Each link's block: its largest ancestor (below the main area) that links to
    that article only: the teaser, with its date and summary."""
    urls: dict[Element, set[str]] = defaultdict(set)
    for c in candidates:
        for element in c.anchor.iterancestors():
            if element is main:
                break
            urls[element].add(c.url)
    blocks: dict[Element, Element] = {}
    for c in candidates:
        block = c.anchor
        for element in c.anchor.iterancestors():
            if element is main or urls[element] != {c.url}:
                break
            block = element
        blocks[c.anchor] = block
    return blocks


def _counts(members: list[_Candidate]) -> bool:
    """A group of links is a list of articles (see the module docstring, step 4)."""
    distinct = {c.url: c.text for c in members}
    if len(distinct) == 1:
        return _headline_words(next(iter(distinct.values()))) >= 4
    headlines = sum(1 for text in distinct.values() if _headline_words(text) >= 3)
    return headlines * 2 > len(distinct)


def _is_rich(block: Element, c: _Candidate) -> bool:
    if block is c.anchor:
        return False
    if block.find(".//time") is not None:
        return True
    text = " ".join(block.text_content().split())
    if _DATE_TEXT.search(text):
        return True
    link_text = sum(len(_text(a)) for a in block.iter("a"))
    return len(text) - link_text >= SUMMARY_CHARS


def _headline_words(text: str) -> int:
    """How many words the link's text has, as a headline: 0 for "Read more"."""
    if text.casefold().strip(" .…›»>→") in _READ_MORE:
        return 0
    wide = len(_WIDE.findall(text))
    return len(_WORD.findall(text)) + wide // 3


def _title_rank(text: str) -> tuple[bool, int]:
    return _headline_words(text) > 0, len(text)


def _published(block: Element) -> datetime | None:
    """The date and time next to the link (`<time datetime>`), when it has a time of day."""
    for time_element in block.iter("time"):
        value = (time_element.get("datetime") or "").strip()
        if "T" not in value and " " not in value:
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            continue
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return None


def _text(a: Element) -> str:
    text = " ".join(a.text_content().split())
    if text:
        return text
    for value in (a.get("title"), *(img.get("alt") for img in a.iter("img"))):
        if value and value.strip():
            return " ".join(value.split())
    return ""


# --- URLs -------------------------------------------------------------------------


def _same_document(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return ((parts.hostname or "").removeprefix("www."), parts.path.rstrip("/") or "/", parts.query)


def _site(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _same_site(host: str, site: str) -> bool:
    return host == site or host.endswith("." + site) or site.endswith("." + host)


def _article_shaped(url: str) -> bool:
    """A URL that names one document: see the module docstring, step 3."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    if any(key.lower() in _PAGER_KEYS for key, _ in query) or _PAGER_PATH.search(parts.path):
        return False
    segments = [s for s in parts.path.split("/") if s]
    last = segments[-1] if segments else ""
    stem, _, extension = last.rpartition(".") if "." in last else (last, "", "")
    if extension.lower() in _FILE_EXTENSIONS:
        return False
    if _DIGITS.search(parts.path) or any(_DIGITS.fullmatch(v) for _, v in query):
        return True
    if not segments or stem.lower() in _NOT_ARTICLES or len(stem) <= 2:
        return False
    return len(re.split(r"[-_+]+", stem)) >= 3 or len(segments) >= 3


