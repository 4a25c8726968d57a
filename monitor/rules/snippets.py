"""Short context around a hit, for the CLI and for alerts: the analyst sees the
words around the match on one line, never a word cut in half."""

from __future__ import annotations

import re

ELLIPSIS = "…"
_WHITESPACE = re.compile(r"\s+")


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text)


def snippet(text: str, start: int, end: int, width: int = 60) -> str:
    """`text[start:end]` with about `width` characters of context on each side.

    Context is cut at word boundaries (a word only partly inside the window is
    left out, unless the window holds nothing else), whitespace runs become
    single spaces, and `…` marks each cut.
    """
    if not 0 <= start <= end <= len(text):
        raise ValueError(f"span {start}:{end} is outside a text of {len(text)} characters")
    if width < 0:
        raise ValueError("width must not be negative")
    left_from = max(0, start - width)
    left = text[left_from:start]
    cut_left = left_from > 0
    if cut_left and not text[left_from - 1].isspace():
        space = _WHITESPACE.search(left)
        if space is not None:  # drop the partial first word
            left = left[space.end() :]
    right_to = min(len(text), end + width)
    right = text[end:right_to]
    cut_right = right_to < len(text)
    if cut_right and not text[right_to].isspace():
        spaces = list(_WHITESPACE.finditer(right))
        if spaces:  # drop the partial last word
            right = right[: spaces[-1].start()]
    body = _collapse(left).lstrip() + _collapse(text[start:end]) + _collapse(right).rstrip()
    return (ELLIPSIS if cut_left else "") + body + (ELLIPSIS if cut_right else "")
