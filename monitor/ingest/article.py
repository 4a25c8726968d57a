"""An article page's main text: the body a reader came for, without the menus,
breadcrumbs, cookie banners, "latest news" sidebars, "read also" lists and
footers around it, whether the page is built of `<article>`/`<main>` or of
plain `div`s and layout tables.

trafilatura does the extraction (measured against readability-lxml and jusText
on tests/articles: bench/README.md, "Whole articles"). Two things are ours:

* decoding: the charset the server declared wins, then the page's own
  `<meta charset>`, then UTF-8, then a detected encoding, so the old site that
  says windows-1252 in its header reads right;
* link lists inside the body are dropped before extraction: a paragraph or list
  item that is nearly all link text ("Read also: …", "Related: …") names other
  stories, and the rules must not count it. trafilatura keeps such a paragraph
  when it sits inside the text block.

Pure and CPU-bound: it runs in the parse workers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import charset_normalizer
import lxml.etree
import lxml.html

__all__ = ["Article", "extract_article"]

#: A block whose text is at least this share of link text is a list of links.
LINK_SHARE: Final = 0.8
_BLOCKS: Final = ("p", "li", "ul", "ol", "div", "td", "section", "nav", "aside")
_META_CHARSET: Final = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECLARATION: Final = re.compile(r"^\s*<\?xml[^>]*>")
_LANG: Final = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*")
_SNIFF_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class Article:
    """What an article page says: its headline as the page gives it, the main text
    (one paragraph per line), and what the page declares of its language and date."""

    title: str | None
    text: str
    language: str | None = None  # the page's <html lang>, e.g. "fr" (a hint, as a feed's is)
    date: str | None = None  # the publication date found in the page, "YYYY-MM-DD"


def extract_article(html: bytes, url: str, *, declared_encoding: str | None = None) -> Article | None:
    """The article in `html` (the bytes `url` answered with), or None when the page
    holds no readable main text (not HTML, empty, only navigation).
    `declared_encoding`: the charset of the HTTP Content-Type, when there was one."""
    tree = _parse(html, declared_encoding)
    if tree is None:
        return None
    language = _language(tree)
    _drop_link_lists(tree)
    import trafilatura  # imported on first use: the CLI and start-up need none of it

    document = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, include_tables=False, with_metadata=True
    )
    text = getattr(document, "text", None) or ""
    if not text.strip():
        return None
    return Article(
        title=getattr(document, "title", None) or None,
        text=text,
        language=language,
        date=getattr(document, "date", None) or None,
    )


def decode_html(html: bytes, declared_encoding: str | None = None) -> str:
    """The page as text: the declared charset, else the page's <meta charset>, else
    UTF-8, else a detected encoding. Undecodable bytes become U+FFFD, never an error."""
    for encoding in (declared_encoding, _meta_charset(html)):
        if encoding:
            try:
                return html.decode(encoding, errors="replace")
            except LookupError:  # a charset Python does not know
                continue
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(html[:200_000]).best()
        return html.decode(best.encoding if best else "cp1252", errors="replace")


def _meta_charset(html: bytes) -> str | None:
    match = _META_CHARSET.search(html[:_SNIFF_BYTES])
    return match.group(1).decode("ascii") if match else None


def _parse(html: bytes, declared_encoding: str | None) -> lxml.html.HtmlElement | None:
    text = _XML_DECLARATION.sub("", decode_html(html, declared_encoding), count=1)
    if "<" not in text:
        return None  # plain text, JSON, a binary: no page to read
    try:
        tree = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None
    return tree if tree.find("body") is not None else None


def _language(tree: lxml.html.HtmlElement) -> str | None:
    declared = (tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip()
    return declared.lower() if _LANG.fullmatch(declared) else None


def _drop_link_lists(tree: lxml.html.HtmlElement) -> None:
    """Remove blocks made of links (see the module docstring). Innermost first, so a
    body `div` holding one such paragraph loses the paragraph, not itself."""
    for block in reversed(list(tree.iter(*_BLOCKS))):
        if block.getparent() is None:
            continue
        text = _words(block.text_content())
        if not text:
            continue
        linked = sum(len(_words(a.text_content())) for a in block.iter("a"))
        if linked >= LINK_SHARE * len(text):
            block.drop_tree()


def _words(text: str) -> str:
    return "".join(text.split())
