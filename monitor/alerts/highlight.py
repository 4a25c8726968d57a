"""Snippets with the matched words marked, for the HTML email.

The snippet is cut from the stored text with the hit spans bracketed by two
private-use characters; the result is HTML-escaped and only then are those
characters turned into <mark> tags, so nothing from the feed is ever read as
markup. Feed text that already contains the private-use characters has them
replaced first (same length, so offsets still hold).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from monitor.items import Hit
from monitor.rules import snippet

OPEN, CLOSE = "\ue000", "\ue001"


def marked_snippet(text: str, hit: Hit, others: Sequence[Hit] = (), width: int = 60) -> str:
    """A plain-text snippet around `hit`, every hit of the same field inside it bracketed."""
    clean = text.replace(OPEN, "\ufffd").replace(CLOSE, "\ufffd")
    if not 0 <= hit.start < hit.end <= len(clean):
        return OPEN + hit.matched + CLOSE  # the text is gone (retention) or does not fit
    spans = _disjoint([hit, *[o for o in others if o.field == hit.field]], len(clean))
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        pieces += [clean[cursor:start], OPEN, clean[start:end], CLOSE]
        cursor = end
    pieces.append(clean[cursor:])
    marked = "".join(pieces)
    start, end = _moved(spans, hit.start, hit.end)
    return snippet(marked, start, end, width)


def to_html(marked: str) -> str:
    escaped = html.escape(marked, quote=True)
    # A snippet window can cut between a bracket pair; close what it opened.
    out, depth = [], 0
    for ch in escaped:
        if ch == OPEN:
            if depth == 0:
                out.append("<mark>")
            depth += 1
        elif ch == CLOSE:
            if depth == 1:
                out.append("</mark>")
            depth = max(depth - 1, 0)
        else:
            out.append(ch)
    if depth:
        out.append("</mark>")
    return "".join(out)


def to_text(marked: str) -> str:
    return marked.replace(OPEN, "").replace(CLOSE, "")


def _disjoint(hits: Sequence[Hit], length: int) -> list[tuple[int, int]]:
    """The first hit's span, then others that do not overlap anything kept, in order."""
    kept: list[tuple[int, int]] = []
    for h in hits:
        if not 0 <= h.start < h.end <= length:
            continue
        if any(h.start < e and s < h.end for s, e in kept):
            continue
        kept.append((h.start, h.end))
    return sorted(kept)


def _moved(spans: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Where [start, end) is once the brackets are in: two characters per span before it."""
    before = sum(1 for s, _ in spans if s < start)
    if (start, end) in spans:
        return start + 2 * before, end + 2 * before + 2  # include its own brackets
    return start + 2 * before, end + 2 * before
