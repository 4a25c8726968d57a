"""Read one scraped press item given as plain text, the way a person would.

Scraped texts have no markup to say what the headline is, so we take the
first line a reader would take for one: photo credits and page furniture
above it are skipped. Some scrapes have no headline at all and start straight
with the first paragraph; then the title is that paragraph's first sentence,
shortened, and the paragraph stays in the body.

A wire-style dateline ("MINSK, 4 November (BelTA) -") says where the story was
filed and who filed it; a trailer ("More information: European Union External
Action", "Source: X") names the publisher when there is no dateline. The
dateline is kept in the body: it is part of what was published.

Only leading furniture is removed here. Everything else is left for
`monitor.normalize`, which sees context this module must not destroy (a
sidebar link is recognised by the lone "|" line after it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit

from monitor.items import Item
from monitor.normalize import is_boilerplate, strip_reply_prompt

__all__ = ["Dateline", "find_dateline", "find_trailer_origin", "first_sentence", "parse_text", "shorten_title"]

TITLE_MAX: Final = 150
HEADLINE_MAX: Final = 150

# --- dateline ---------------------------------------------------------------

_MONTH: Final = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY: Final = r"(?:(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?\.?,?\s+)?"
_DATE: Final = (
    rf"{_WEEKDAY}(?:"
    rf"(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?P<m1>{_MONTH})(?:,?\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>\d{{4}}))?"
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}))"
)
_DATELINE: Final = re.compile(
    rf"""
    (?P<place>[^\W\d_][^\s,(/]*(?:\ [^\s,(/]+){{0,3}}?)
    (?:,\s*(?P<date>{_DATE}))?
    \.?\s*
    (?:
        \((?P<origin>[^()\n]{{1,40}})\)\s*[-–—:]+
      | /(?P<slash>[^/\n]{{1,30}})/\.?(?:\s*[-–—]+)?
      | [-–—]+
    )
    \s+(?=[\"“‘(\[]?[^\W_])
    """,
    re.VERBOSE | re.IGNORECASE,
)
_DATE_ONLY: Final = re.compile(_DATE, re.IGNORECASE)
_PLACE_CONNECTORS: Final = frozenset({"de", "da", "do", "del", "la", "le", "al", "el", "am", "upon", "sur", "es"})
_NOT_PLACES: Final = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "may june july august september october november december today yesterday".split()
)
_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True, slots=True)
class Dateline:
    """What a wire-style dateline says: where, who, and (if it has a year) when."""

    place: str
    origin: str | None
    published: datetime | None
    end: int  # where the story proper starts in the paragraph


def _is_place(words: list[str]) -> bool:
    return all(w[0].isupper() or w in _PLACE_CONNECTORS for w in words) and words[-1][0].isupper()


def _date(m: re.Match[str]) -> datetime | None:
    """The dateline's date as UTC midnight; None without a year (it is ambiguous)."""
    try:
        if m["iso"]:
            return datetime.fromisoformat(m["iso"]).replace(tzinfo=UTC)
        year = m["y1"] or m["y2"]
        if not year:
            return None
        month = _MONTHS.index((m["m1"] or m["m2"])[:3].lower()) + 1
        return datetime(int(year), month, int(m["d1"] or m["d2"]), tzinfo=UTC)
    except ValueError:
        return None


def find_dateline(paragraph: str) -> Dateline | None:
    """Parse a dateline at the start of a paragraph, or None if there is none.

    A capitalised word followed by a dash is not enough ("Igor Sekreta - ..."):
    we need a date or an agency, or an all-caps place as wires write it.
    """
    m = _DATELINE.match(paragraph)
    if m is None or len(m["place"]) > 40:
        return None
    words = m["place"].split()
    if not _is_place(words):
        return None
    if words[0].lower().rstrip(".,") in _NOT_PLACES:
        return None
    origin = (m["origin"] or m["slash"] or "").strip() or None
    dated = m["date"] is not None
    published = _date(m) if dated else None
    if origin is not None and (in_parens := _DATE_ONLY.fullmatch(origin)):
        dated, origin, published = True, None, _date(in_parens)  # "GENEVA (12 March 2024) –"
    elif origin is not None and not any(c.isalpha() for c in origin):
        origin = None
    if not (dated or origin or m["place"].isupper()):
        return None
    story = paragraph[m.end() :]
    if not story[:1].isupper() and not story[:1].isdigit() and story[:1] not in "\"“‘([":
        return None  # "UPR – a review of ..." is a sentence, not a dateline
    place = m["place"].rstrip(".")
    if place.isupper():
        place = place.title()
    return Dateline(place=place, origin=origin, published=published, end=m.end())


# --- trailer ----------------------------------------------------------------

_TRAILER: Final = re.compile(
    r"(?:for\ more\ information|more\ information|further\ information|sources?"
    r"|published\ by|issued\ by|originally\ published\ by)"
    r"\s*[:\-–—]\s*(?P<origin>\S.{0,99})",
    re.IGNORECASE | re.VERBOSE,
)


def find_trailer_origin(paragraphs: list[str]) -> str | None:
    """The publisher named by a trailer line near the end ("Source: X")."""
    checked = 0
    for line in reversed(paragraphs):
        if is_boilerplate(line):
            continue
        m = _TRAILER.fullmatch(line)
        if m:
            origin = m["origin"].strip().rstrip(".").strip()
            if origin.startswith(("http://", "https://", "www.")):
                host = urlsplit(origin if "//" in origin else "//" + origin).hostname or ""
                origin = host.removeprefix("www.")
            return origin or None
        checked += 1
        if checked == 3:
            return None
    return None


# --- title ------------------------------------------------------------------

# Sentence ends: punctuation, optional closing quotes, space, then something that
# can start a sentence. Abbreviations are checked separately.
_SENTENCE_END: Final = re.compile(r"[.!?…]+[\"”’)\]]*\s+(?=[\"“‘(\[]?[^\W_])")
_ABBREVIATIONS: Final = frozenset(
    "mr mrs ms dr prof st no nos vs gen col lt sgt capt sen rep gov amb jr sr inc ltd co "
    "corp art para fig jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e cf approx "
    "min dept est ca op".split()
)
_CLAUSE_BREAK: Final = re.compile(r"[,;:](?=\s)|\s[–—-](?=\s)")
_FUNCTION_WORDS: Final = frozenset(
    "to and but or nor within with without for on in of that which who whose while after before as at "
    "by from during following under over amid against between into about regarding including where "
    "when since than the a an its their his her".split()
)
_DANGLING: Final = " ,;:–—-("


def first_sentence(paragraph: str) -> str:
    """The paragraph's first sentence, not fooled by "Mr." or "U.N."."""
    for m in _SENTENCE_END.finditer(paragraph):
        end = m.start()
        if paragraph[end] == ".":
            word = paragraph[paragraph.rfind(" ", 0, end) + 1 : end].lstrip("(\"“‘").lower()
            if len(word) == 1 or "." in word or word in _ABBREVIATIONS:
                continue
        return paragraph[: m.end()].rstrip()
    return paragraph


def _trim_end(text: str) -> str:
    """Drop what a cut title must not end on: punctuation, "of", "the" ..."""
    while True:
        text = text.rstrip(_DANGLING)
        head, _, last = text.rpartition(" ")
        if not head or last.lower() not in _FUNCTION_WORDS:
            return text
        text = head


def _function_word_starts(text: str, least: int) -> list[int]:
    """Offsets of the spaces before function words, from `least` on."""
    found: list[int] = []
    pos = 0
    for word in text.split(" "):
        if pos > least and word.lower() in _FUNCTION_WORDS:
            found.append(pos - 1)
        pos += len(word) + 1
    return found


def shorten_title(text: str, limit: int = TITLE_MAX) -> str:
    """Shorten to at most `limit` characters at a clause or word boundary, with "…".

    A cut at a comma or dash reads best; failing that, cut before a function
    word ("to", "on", "of" ...) so the title does not end on one; failing that,
    at the last space.
    """
    if len(text) <= limit:
        return text
    window = text[: limit - 1]
    clauses = [m.start() for m in _CLAUSE_BREAK.finditer(window) if m.start() >= limit * 0.6]
    if clauses:
        cut = clauses[-1]
    else:
        before_function_word = _function_word_starts(window, limit // 2)
        cut = before_function_word[-1] if before_function_word else window.rfind(" ")
    head = _trim_end(window[:cut] if cut > 0 else window)
    return (head or window.rstrip()) + "…"


def _title_from_paragraph(paragraph: str, dateline: Dateline | None) -> str:
    if dateline is not None:
        paragraph = paragraph[dateline.end :]
    return shorten_title(first_sentence(paragraph))


def _is_headline(line: str) -> bool:
    """A line that reads as a headline: short, and not ending like a sentence."""
    if len(line) > HEADLINE_MAX or find_dateline(line) is not None:
        return False
    return not line.endswith((",", ";", ":")) and not (line.endswith(".") and not line.endswith(".."))


# --- entry point ------------------------------------------------------------


def parse_text(data: str, *, source: str, guid: str, path: str | None) -> Item:
    """One press item from scraped plain text (one paragraph per line)."""
    lines = [" ".join(raw.split()) for raw in data.splitlines()]
    lines = [strip_reply_prompt(line) if "Leave a " in line else line for line in lines]
    lines = [line for line in lines if line]
    start = next((i for i, line in enumerate(lines) if not is_boilerplate(line)), len(lines))
    if start == len(lines):
        return Item(source=source, guid=guid, title="", text="\n\n".join(lines), path=path)

    first, rest = lines[start], lines[start + 1 :]
    if _is_headline(first):
        title, body = first, rest or [first]
    else:
        title, body = "", [first, *rest]

    lead = next((line for line in body if not is_boilerplate(line)), None)
    dateline = find_dateline(lead) if lead is not None else None
    if not title:
        title = _title_from_paragraph(first, dateline if lead == first else None)

    origin = dateline.origin if dateline else None
    return Item(
        source=source,
        guid=guid,
        title=title,
        text="\n\n".join(body),
        published=dateline.published if dateline else None,
        origin=origin or find_trailer_origin(body),
        place=dateline.place if dateline else None,
        path=path,
    )
