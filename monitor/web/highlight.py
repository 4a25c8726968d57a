"""Feed text with its hits wrapped in <mark>, built from the stored offsets.

This is the one place where feed text becomes HTML, so it is built piece by
piece: every slice of feed text goes through `markupsafe.escape`, and only the
<mark> tags we write ourselves are trusted. Offsets come from the database, so
they are clipped to the text, and overlapping or nested hits (two rules on the
same words, a long term containing a short one) are merged into one <mark>
that names every rule involved: marks never nest and never cross.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from monitor.items import Hit

ELLIPSIS = "…"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Marked:
    """A stretch of text covered by one or more overlapping hits."""

    start: int
    end: int
    rules: tuple[str, ...]
    labels: tuple[str, ...]  # "rule: term as written", one per distinct hit


def merge(hits: Iterable[Hit], length: int) -> list[Marked]:
    """Overlapping hits as disjoint stretches, in text order. Hits outside the
    text (a stale offset) are clipped or dropped, never trusted."""
    spans = sorted(
        (max(h.start, 0), min(h.end, length), h.rule, h.term)
        for h in hits
        if h.start < h.end and h.start < length and h.end > 0
    )
    merged: list[Marked] = []
    for start, end, rule, term in spans:
        if start >= end:
            continue
        last = merged[-1] if merged else None
        if last is not None and start < last.end:
            merged[-1] = Marked(
                last.start, max(last.end, end),
                tuple(sorted({*last.rules, rule})), tuple(dict.fromkeys((*last.labels, f"{rule}: {term}"))),
            )
        else:
            merged.append(Marked(start, end, (rule,), (f"{rule}: {term}",)))
    return merged


def _mark(text: str, marked: Marked, plain: bool) -> Markup:
    if plain:  # feed readers sanitize <mark> and attributes away; <strong> they keep
        return Markup("<strong>{}</strong>").format(text)
    return Markup('<mark class="hit{}" data-rules="{}" title="{}">{}</mark>').format(
        " multi" if len(marked.rules) > 1 else "",
        " ".join(marked.rules),
        "; ".join(marked.labels),
        text,
    )


def highlight(text: str, hits: Sequence[Hit], *, collapse: bool = False, plain: bool = False) -> Markup:
    """All of `text`, escaped, with every hit marked. `collapse` turns
    whitespace runs into single spaces (for one-line snippets); `plain` marks
    with a bare <strong> (for the Atom feed)."""

    def piece(s: str) -> str:
        return _WHITESPACE.sub(" ", s) if collapse else s

    out: list[Markup | str] = []
    pos = 0
    for m in merge(hits, len(text)):
        out.append(escape(piece(text[pos : m.start])))
        out.append(_mark(piece(text[m.start : m.end]), m, plain))
        pos = m.end
    out.append(escape(piece(text[pos:])))
    return Markup("").join(out)


def window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    """The stretch around `text[start:end]` a snippet shows: about `width`
    characters each side, cut at whitespace so no word is shown in part
    (the same cut as `monitor.rules.snippet`)."""
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


def snippet(text: str, hits: Sequence[Hit], *, width: int = 80, plain: bool = False) -> Markup:
    """One line around the first hit, with every hit inside it marked (a hit
    cut by the window is marked as far as it shows) and an ellipsis where the
    text was cut. Without hits: the opening of the text."""
    merged = merge(hits, len(text))
    if merged:
        left, right = window(text, merged[0].start, merged[0].end, width)
    else:
        left, right = window(text, 0, 0, 2 * width)
    piece = text[left:right]
    lead = len(piece) - len(piece.lstrip())
    shift = left + lead
    shifted = [Hit(h.rule, h.term, h.field, h.start - shift, h.end - shift, h.matched) for h in hits]
    body = highlight(piece.strip(), shifted, collapse=True, plain=plain)
    before = Markup(ELLIPSIS) if left > 0 else Markup("")
    after = Markup(ELLIPSIS) if right < len(text) else Markup("")
    return before + body + after
