"""Feed text around its hits with the hits marked, for every output: plain text
(CLI, JSON, the text part of an email) and HTML (the email, the dashboard, the
Atom feed).

A snippet is cut and marked as structure (runs of text, each plain or under
one mark) and rendered only then, so feed text is never searched for markers:
in HTML each run is escaped and only the tags written here are trusted.
Offsets come from storage and can outlive the text they pointed into
(retention, a later normalization), so they are clipped to the text or dropped.

Overlapping or nested hits (two rules on the same words, a long term holding a
short one) merge into one mark that names every rule: marks never nest and
never cross. Hits that only touch stay two marks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from markupsafe import Markup, escape

from monitor.items import Hit
from monitor.present.sanitize import markdown_escape, one_line

ELLIPSIS = "…"
WIDTH = 60  # characters of context on each side, before the cut at a word
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class Mark:
    """A stretch of text covered by one or more overlapping hits."""

    start: int
    end: int
    rules: tuple[str, ...]  # sorted, each once
    labels: tuple[str, ...]  # "rule: term as written", one per distinct hit


Runs = tuple[tuple[str, Mark | None], ...]


@dataclass(frozen=True, slots=True)
class Snippet:
    """Text in runs, each plain (None) or under one mark, and where it was cut."""

    runs: Runs
    cut_left: bool = False
    cut_right: bool = False


def merge(hits: Iterable[Hit], length: int) -> list[Mark]:
    """Overlapping hits as disjoint marks, in text order; offsets outside a text
    of `length` characters are clipped, or the hit dropped."""
    spans = sorted(
        (max(h.start, 0), min(h.end, length), h.rule, h.term)
        for h in hits
        if h.start < h.end and h.start < length and h.end > 0
    )
    merged: list[Mark] = []
    for start, end, rule, term in spans:
        last = merged[-1] if merged else None
        if last is not None and start < last.end:
            merged[-1] = Mark(
                last.start, max(last.end, end),
                tuple(sorted({*last.rules, rule})), tuple(dict.fromkeys((*last.labels, f"{rule}: {term}"))),
            )
        else:
            merged.append(Mark(start, end, (rule,), (f"{rule}: {term}",)))
    return merged


def window(text: str, start: int, end: int, width: int = WIDTH) -> tuple[int, int]:
    """The stretch a snippet of `text[start:end]` shows: about `width` characters
    each side, cut at whitespace so no word shows in part (unless the window
    holds nothing but that word)."""
    if width < 0:
        raise ValueError("width must not be negative")
    left = max(0, start - width)
    if left > 0 and not text[left - 1].isspace():
        space = _WHITESPACE.search(text, left, start)
        if space is not None:
            left = space.end()
    right = min(len(text), end + width)
    if right < len(text) and not text[right].isspace():
        spaces = list(_WHITESPACE.finditer(text, end, right))
        if spaces:
            right = spaces[-1].start()
    return left, right


def whole(text: str, hits: Iterable[Hit]) -> Snippet:
    """All of `text`, every hit marked, whitespace as it is (a match's full text)."""
    return Snippet(_runs(text, merge(hits, len(text)), 0, len(text), collapse=False))


def snippet(text: str, hits: Iterable[Hit], *, anchor: Hit | None = None, width: int = WIDTH) -> Snippet:
    """One line around `anchor` (else the first hit), every hit inside it marked
    (one the window cuts, as far as it shows), whitespace runs as one space, and
    cut where an ellipsis shows. Without hits: the opening of the text. An
    anchor outside the text (the text is gone) shows as the words it matched."""
    marks = merge(hits, len(text))
    if anchor is not None and not 0 <= anchor.start < anchor.end <= len(text):
        gone = Mark(anchor.start, anchor.end, (anchor.rule,), (f"{anchor.rule}: {anchor.term}",))
        return Snippet(((anchor.matched, gone),))
    if anchor is not None:
        left, right = window(text, anchor.start, anchor.end, width)
    elif marks:
        left, right = window(text, marks[0].start, marks[0].end, width)
    else:
        left, right = window(text, 0, 0, 2 * width)
    return _cut(text, marks, left, right)


def plain_snippet(text: str, start: int, end: int, width: int = WIDTH) -> str:
    """`text[start:end]` on one line of plain text with its context. For offsets
    just computed from this text: one outside it is a bug, so a ValueError."""
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}:{end} is outside a text of {len(text)} characters")
    return as_text(_cut(text, [], *window(text, start, end, width)))


def _cut(text: str, marks: Iterable[Mark], left: int, right: int) -> Snippet:
    """`text[left:right]` on one line, trimmed, with an ellipsis where text was left out."""
    piece = text[left:right]
    first = left + len(piece) - len(piece.lstrip())
    last = max(first, right - (len(piece) - len(piece.rstrip())))
    return Snippet(_runs(text, marks, first, last, collapse=True), left > 0, right < len(text))


def _runs(text: str, marks: Iterable[Mark], first: int, last: int, *, collapse: bool) -> Runs:
    """`text[first:last]` cut at the marks (clipped to it)."""

    def piece(start: int, end: int) -> str:
        return _WHITESPACE.sub(" ", text[start:end]) if collapse else text[start:end]

    runs: list[tuple[str, Mark | None]] = []
    pos = first
    for mark in marks:
        start, end = max(mark.start, first), min(mark.end, last)
        if start >= end:
            continue
        if pos < start:
            runs.append((piece(pos, start), None))
        runs.append((piece(start, end), mark))
        pos = end
    if pos < last:
        runs.append((piece(pos, last), None))
    return tuple(runs)


# -- rendering ----------------------------------------------------------------

MarkTag = Callable[[Mark, str], Markup]


def as_text(snippet: Snippet) -> str:
    body = "".join(text for text, _ in snippet.runs)
    return (ELLIPSIS if snippet.cut_left else "") + body + (ELLIPSIS if snippet.cut_right else "")


def as_html(snippet: Snippet, mark: MarkTag) -> Markup:
    """Every run escaped; marked runs wrapped by `mark`, the only markup."""
    body = Markup("").join(escape(text) if m is None else mark(m, text) for text, m in snippet.runs)
    return Markup(ELLIPSIS if snippet.cut_left else "") + body + Markup(ELLIPSIS if snippet.cut_right else "")


def as_markdown(snippet: Snippet) -> str:
    """Every run escaped for Markdown, marked runs in bold (chat alerts)."""
    body = "".join(_flat(text) if m is None else f"**{_flat(text)}**" for text, m in snippet.runs)
    return (ELLIPSIS if snippet.cut_left else "") + body + (ELLIPSIS if snippet.cut_right else "")


def as_marked_text(snippet: Snippet) -> str:
    """Plain text with each marked run between asterisks, as people write emphasis in a chat."""
    body = "".join(text if m is None else f"*{text}*" for text, m in snippet.runs)
    return one_line((ELLIPSIS if snippet.cut_left else "") + body + (ELLIPSIS if snippet.cut_right else ""))


def _flat(text: str) -> str:
    """A run escaped for Markdown; controls as spaces, its own spaces kept."""
    return markdown_escape(_CONTROL.sub(" ", text))


def dashboard_mark(mark: Mark, text: str) -> Markup:
    """Names the rules (for styling) and each term (as a tooltip): why it matched."""
    return Markup('<mark class="hit{}" data-rules="{}" title="{}">{}</mark>').format(
        " multi" if len(mark.rules) > 1 else "", " ".join(mark.rules), "; ".join(mark.labels), text,
    )


def email_mark(mark: Mark, text: str) -> Markup:
    """Bare: mail clients drop classes and titles anyway."""
    return Markup("<mark>{}</mark>").format(text)


def feed_mark(mark: Mark, text: str) -> Markup:
    """Feed readers sanitize <mark> and attributes away; <strong> they keep."""
    return Markup("<strong>{}</strong>").format(text)
