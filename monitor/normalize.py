"""Normalization: turn whatever a source delivered into the text we store and match.

Every item goes through `normalize` before dedupe and classification, whether it
came from a feed or a fixture file. What comes out is exactly what is stored and
what hit offsets point into, so this step must be deterministic and must not
depend on where the item came from.

What it does, in order:

* HTML to text when the text carries markup (block elements and `<br>` become
  paragraph breaks, scripts and styles are dropped, entities decoded);
* Unicode NFKC (non-breaking and other odd spaces become plain spaces);
* line breaks unified, control and zero-width characters removed;
* whitespace collapsed inside each paragraph (one paragraph per line);
* boilerplate lines dropped (sidebar links, "Leave a Reply", share buttons,
  photo credits, cookie banners, ...);
* repeated paragraphs dropped, keeping the first: scraped pages often carry
  every paragraph twice.

Typographic quotes and diacritics are kept: the stored text is what analysts
read; the matcher folds them itself.

Speed matters (the replay bench pushes thousands of items a second), so the
work is done with `str` methods and compiled regexes, and the slower paths
(HTML, control characters, odd whitespace) only run when a cheap test says
they are needed. The only Python-level loop runs over lines, never characters.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Final

from monitor.items import Item

__all__ = [
    "html_to_text",
    "is_boilerplate",
    "is_caption",
    "normalize",
    "normalize_text",
    "normalize_title",
    "strip_reply_prompt",
]

# --- HTML -------------------------------------------------------------------

# A real tag or comment. Plain text such as "a < b" does not match, so ordinary
# text never goes through the HTML conversion.
_MARKUP: Final = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>|<!--")
# Entities in text without markup: only the unambiguous, semicolon-terminated
# forms, so "AT&T" or "R&D" stay as written.
_ENTITY: Final = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# Elements whose content no reader sees; an unclosed one runs to the end.
_DROPPED: Final = re.compile(
    r"<(script|style|noscript|template|head|iframe|object|svg|select|textarea)\b[^>]*>.*?(?:</\1\s*>|$)"
    r"|<!--.*?(?:-->|$)"
    r"|<\?.*?(?:\?>|$)",
    re.IGNORECASE | re.DOTALL,
)
# Inside a tag, quoted attribute values may contain ">".
_TAG_BODY: Final = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_BLOCK: Final = re.compile(
    r"</?(?:address|article|aside|blockquote|br|caption|dd|div|dl|dt|figcaption|figure"
    r"|footer|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|thead|tfoot|tr|ul)"
    rf"\b{_TAG_BODY}>",
    re.IGNORECASE,
)
_CELL: Final = re.compile(rf"</?t[dh]\b{_TAG_BODY}>", re.IGNORECASE)
_ANY_TAG: Final = re.compile(rf"</?[A-Za-z][A-Za-z0-9:-]*\b{_TAG_BODY}>|<![A-Za-z][^>]*>")
_CDATA: Final = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|$)", re.DOTALL)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML fragment, one paragraph per line.

    Structure (block elements, `<br>`, list items) becomes a line break, and
    then newlines in the source are layout, so they become spaces. Text with
    only inline tags (a scraped page with one stray `<strong>`) keeps its
    newlines: there they are the only paragraph structure there is.

    This is regex work rather than `html.parser`: several times faster, and
    good enough for what arrives here (fragments feedparser has already
    sanitized, or scraped text with a few tags in it).
    """
    text = markup.replace("\r", " ").replace("\n", " ") if _BLOCK.search(markup) else markup
    if "<![" in text:
        text = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), text)
    text = _DROPPED.sub(" ", text)
    text = _BLOCK.sub("\n", text)
    if "<t" in text or "<T" in text or "</t" in text or "</T" in text:
        text = _CELL.sub(" ", text)
    text = _ANY_TAG.sub("", text)
    return html.unescape(text) if "&" in text else text


def _decode_markup(text: str) -> str:
    if "<" in text and _MARKUP.search(text):
        return html_to_text(text)
    if "&" in text:
        return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    return text


# --- characters -------------------------------------------------------------

# C0/C1 controls, plus invisible characters that split words for the matcher
# (zero-width space, word joiner, BOM, soft hyphen). ZWJ and ZWNJ are kept:
# they carry meaning in Persian, Indic scripts and emoji. Tabs and other
# whitespace are handled by `str.split`.
_INVISIBLE: Final = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u00ad\u200b\u2060\ufeff]+")


def _clean_line(line: str) -> str:
    """One line with invisible characters removed and whitespace collapsed.

    `isprintable` is a fast C test that fails on any control, format or odd
    space character; only then do the slower regex and split run.
    """
    if not line.isprintable():
        return " ".join(_INVISIBLE.sub("", line).split())
    if "  " in line:
        return " ".join(line.split())
    return line.strip(" ")


def _lines(text: str) -> list[str]:
    """Markup decoded, NFKC applied, split into cleaned lines (empty ones kept).

    `splitlines` knows every line separator (\\r\\n, \\r, \\v, \\f, \\x1c-\\x1e,
    NEL, U+2028, U+2029), so they all become paragraph breaks.
    """
    text = unicodedata.normalize("NFKC", _decode_markup(text))
    return [_clean_line(line) for line in text.splitlines()]


# --- boilerplate ------------------------------------------------------------

# Lines are judged after whitespace collapsing. Patterns that end in `.*` only
# apply to short lines (see `_SHORT`), so a real paragraph that happens to
# begin with "Read more" is never dropped.
_SHORT: Final = 200
_BOILERPLATE: Final = re.compile(
    r"""
    (?:
        leave\ a\ (?:reply|comment)(?:\ ?cancel\ reply)?
      | cancel\ reply
      | you\ must\ be\ logged\ in\ to\ post\ a\ comment.*
      | your\ email\ address\ will\ not\ be\ published.*
      | share\ this(?:\ (?:article|story|page|post|news))?\ ?:.*
      | share\ (?:on|via|to)\ [a-z]+.*
      | click\ to\ (?:share|print|email|tweet|post)\b.*
      | (?:like\ this\ ?:|like\ loading).*
      | related(?:\ (?:posts?|articles?|stories|news|content|links|items))?\ ?:?
      | (?:read|see)\ (?:more|also)(?:\ (?:here|news|articles?))?\ ?[:.…>»]*
      | continue\ reading.*
      | skip\ to\ (?:main\ )?content
      | back\ to\ top
      | advertisement
      | (?:subscribe|sign\ up)\ (?:to|for)\ (?:our|the)\ newsletter.*
      | follow\ us\ on\ .*
      | (?:print|email|e-mail|tweet|share|facebook|twitter|linkedin|whatsapp|telegram)
      | print\ (?:this\ )?(?:page|article)
      | (?:copyright\ )?©.*
      | all\ rights\ reserved\.?
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
_COOKIE: Final = re.compile(
    r"""
    (?:we|this\ (?:web)?site|our\ (?:web)?site|the\ site)\ (?:uses?|is\ using)\ cookies
    | \baccept\ (?:all\ )?cookies\b
    | \bcookie\ (?:settings|policy|preferences|consent)\b
    | \bcookies?\b.*\byou\ (?:agree|consent|accept)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CAPTION: Final = re.compile(
    r"""
    [(\[]?\ ?
    (?:file\ )?(?:photo(?:graph)?s?|images?|pictures?|pics?|video|illustration)
    (?:\ ?(?:courtesy\b|credits?\b|by\b|source\b|:|/|©|-|–|—)|\ ?[)\]]?$)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CAPTION_MAX: Final = 150
_HAS_WORD: Final = re.compile(r"[^\W_]")
_PIPES: Final = frozenset("|¦ ")
# "Leave a Reply" glued to its neighbours by the scraper ("Leave a ReplyPhoto
# courtesy of ...", "...said.Leave a Reply"). Case-sensitive on purpose: as a
# heading it is always capitalised like this.
_REPLY_PREFIX: Final = re.compile(r"Leave a (?:Reply|Comment)(?: ?Cancel reply)?")
_REPLY_SUFFIX: Final = re.compile(r" ?Leave a (?:Reply|Comment)(?: ?Cancel reply)?$")
_SENTENCE_END: Final = tuple(".!?:;\"”’»)…")


def strip_reply_prompt(line: str) -> str:
    """Remove a comment-form heading glued to the start or end of a line."""
    if "Leave a " not in line:
        return line
    line = _REPLY_PREFIX.sub("", line, count=1) if line.startswith("Leave a ") else line
    return _REPLY_SUFFIX.sub("", line).strip()


def is_caption(line: str) -> bool:
    """A photo credit or caption line ("Photo courtesy of the MFA", "(Photo by X)")."""
    return len(line) <= _CAPTION_MAX and _CAPTION.match(line) is not None


def _is_pipe_line(line: str) -> bool:
    return line[0] in _PIPES and _PIPES.issuperset(line)


def is_boilerplate(line: str) -> bool:
    """True for one stripped, whitespace-collapsed line that is page furniture.

    This judges a line on its own; `normalize_text` also drops a link line that
    is followed by a lone "|" separator, which needs the context.
    """
    if _HAS_WORD.search(line) is None:
        return True  # separators, bullets, a lone "|"
    if line.endswith(" |") or line.startswith("| "):
        return True  # a sidebar or navigation link
    if len(line) <= _SHORT and _BOILERPLATE.fullmatch(line):
        return True
    if "ookie" in line and len(line) <= 400 and _COOKIE.search(line):
        return True
    return is_caption(line)


def _looks_like_link_text(line: str) -> bool:
    """A short line that does not end like a sentence: a sidebar headline."""
    return len(line) <= _SHORT and not line.endswith(_SENTENCE_END)


# --- repeated paragraphs ----------------------------------------------------

_QUOTES: Final = "‘’‚‛“”„‟«»‹›`´′″"


def _fold_key(line: str) -> str:
    """Key under which two paragraphs count as the same: case, spaces and quotes ignored."""
    key = line.casefold().replace(" ", "").replace('"', "").replace("'", "")
    if not key.isascii():
        for quote in _QUOTES:
            if quote in key:
                key = key.replace(quote, "")
    return key


# --- entry points -----------------------------------------------------------


def normalize_text(text: str) -> str:
    """The stored body: clean paragraphs, each once, joined by a blank line."""
    kept: list[str] = []
    keys: list[str] = []
    seen: set[str] = set()
    previous_kept = False  # was the previous non-empty line the last one kept?
    for line in _lines(text):
        if not line:
            continue
        if "Leave a " in line:
            line = strip_reply_prompt(line)
            if not line:
                previous_kept = False
                continue
        if _is_pipe_line(line):
            # "Some sidebar headline\n|\n": the line before the separator was a link.
            if previous_kept and _looks_like_link_text(kept[-1]):
                kept.pop()
                seen.discard(keys.pop())
            previous_kept = False
            continue
        key = "" if is_boilerplate(line) else _fold_key(line)
        if not key or key in seen:
            previous_kept = False
            continue
        seen.add(key)
        kept.append(line)
        keys.append(key)
        previous_kept = True
    return "\n\n".join(kept)


def normalize_title(title: str) -> str:
    """The stored title: the same character cleaning as the body, on one line."""
    return " ".join(line for line in _lines(title) if line)


def normalize(item: Item) -> Item:
    """Clean an item's title and text; everything else is left as it came."""
    title = normalize_title(item.title)
    text = normalize_text(item.text)
    if title == item.title and text == item.text:
        return item
    return item.replace(title=title, text=text)
