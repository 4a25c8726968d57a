"""Acronyms an item defines itself: "Oregon Institute of Technology (OIT)",
"UPR (Unidad de Policía Rural)".

A definition is an acronym in brackets right after its long form, or right
before it with the long form in brackets, where the long form's words begin
with the acronym's letters, in order, one letter a word. Short function words
(of, the, de, la, du, y, по, ...) may be skipped, never the first word:
"Office de l'innovation et du tourisme (OIT)" defines OIT; "the UN's labour
agency (ILO)" defines nothing, and neither does a long form in a script
without initials (Han, Arabic). Only what an item spells out is taken as a
definition, so a doubtful case leaves the acronym counting.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from monitor.rules.folding import fold_chars

_OPEN = "(（["
_CLOSE = ")）]"
_AFTER_SHORT_FORM = _CLOSE + ",;，；"  # "(OIT, por sus siglas en francés)" still defines OIT
_BLANKS = " \t\u00a0\u3000"
_CLOSING = re.compile(r"[^()（）\[\]\n]{0,200}?[)）\]]")
_SENTENCE_BREAKS = re.compile(r"[.!?;:()（）\[\]\n«»\"“”„。！？；：]")
_WORD = re.compile(r"[^\W\d_]+")
_LONG_FORM_REACH = 300  # characters; a long form is a phrase, not a paragraph
FUNCTION_WORDS = frozenset(
    # English, French, Spanish, Portuguese, Italian, German, Russian
    "of the for and on in to at a an "
    "de du des la le les l d et pour aux au en sur "
    "del las los el y para e "
    "do da dos das di per "
    "der die das und für von zur zum "
    "по и в на для при".split()
)


class Definition(NamedTuple):
    """Where an item defines an acronym: the long form, and the whole definition
    ("Oregon Institute of Technology (OIT)"), as [start, end) in the text."""

    long_start: int
    long_end: int
    start: int
    end: int


def _initial(word: str) -> str:
    return fold_chars(word[0])


def _matches(words: list[str], letters: str) -> bool:
    """Do the words spell `letters` by their initials, function words optional?"""
    if not words:
        return not letters
    word = words[0]
    if letters and _initial(word) == letters[0] and _matches(words[1:], letters[1:]):
        return True
    return word.casefold() in FUNCTION_WORDS and _matches(words[1:], letters)


def _spells(words: list[str], letters: str) -> bool:
    """The long form starts with a word that gives the first letter (never "of" or "the")."""
    return (
        bool(words)
        and words[0].casefold() not in FUNCTION_WORDS
        and _initial(words[0]) == letters[0]
        and _matches(words, letters)
    )


def definition_at(text: str, start: int, end: int) -> Definition | None:
    """The definition made by the acronym written at `text[start:end]`, if it is one."""
    letters = "".join(fold_chars(char) for char in text[start:end] if char.isalpha())
    if len(letters) < 2:
        return None
    bracket = start - 1
    while bracket >= 0 and text[bracket] in _BLANKS:
        bracket -= 1
    after_at = end
    while after_at < len(text) and text[after_at] in _BLANKS:
        after_at += 1
    following = text[after_at : after_at + 1]
    if bracket >= 0 and text[bracket] in _OPEN and following and following in _AFTER_SHORT_FORM:
        closing = _CLOSING.match(text, after_at)  # "(UPR)", or "(UPR, a new party)"
        return _long_form_before(text, bracket, letters, closing.end() if closing else after_at)
    if following and following in _OPEN:
        return _long_form_after(text, after_at, letters, start)
    return None


def _long_form_before(text: str, bracket: int, letters: str, definition_end: int) -> Definition | None:
    """ "Long Form (ACR)": the fewest words before the bracket that spell the acronym."""
    reach = max(0, bracket - _LONG_FORM_REACH)
    breaks = [match.end() for match in _SENTENCE_BREAKS.finditer(text, reach, bracket)]
    words = list(_WORD.finditer(text, breaks[-1] if breaks else reach, bracket))
    for count in range(len(letters), min(len(words), 2 * len(letters) + 2) + 1):
        chosen = words[-count:]
        if _spells([word.group() for word in chosen], letters):
            return Definition(chosen[0].start(), chosen[-1].end(), chosen[0].start(), definition_end)
    return None


def _long_form_after(text: str, bracket: int, letters: str, start: int) -> Definition | None:
    """ "ACR (Long Form)": the words in the brackets, up to a comma, spell the acronym."""
    inside = re.match(r"[^()（）\[\],;，；\n]*", text[bracket + 1 : bracket + 1 + _LONG_FORM_REACH])
    assert inside is not None  # the pattern matches the empty string
    stop = bracket + 1 + inside.end()
    words = list(_WORD.finditer(text, bracket + 1, stop))
    if not _spells([word.group() for word in words], letters):
        return None
    closed = stop < len(text) and text[stop] in _CLOSE
    return Definition(words[0].start(), words[-1].end(), start, stop + closed)
