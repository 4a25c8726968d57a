"""Rule terms: what a term written in a rule file means, and the pattern that finds it.

A term is a word or a phrase. Folding (see `folding`) makes case, accents,
quotes, punctuation, spacing, line breaks and hyphenation irrelevant, with two
deliberate exceptions that the term's *spelling* expresses:

* `*` right after a letter ends a word with a wildcard: `Верховн*` is
  "a word that starts with верховн" (`Верховного`, `Верховный`, ...). Inflected
  languages need this; a stem must be at least `MIN_STEM` characters so that a
  careless `a*` cannot turn every word of every item into a candidate.
* a term that is a single word with no lowercase letters (`ILO`, `УПО`, `U.N.`)
  is an acronym and matches only when written without lowercase letters
  (`ILO`, not `Ilo` the Peruvian port, and `МОТ`, not the Russian word `мот`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.errors import RuleError
from monitor.rules.folding import fold_words, is_word_char

WILDCARD = "*"
MIN_STEM = 3
MIN_CHARACTERS = 2
_WILDCARD_EXTENSION = "[^ ]*"  # the rest of a word in the folded view: anything up to the next space


class TermSyntaxError(RuleError, ValueError):
    """A term that cannot be matched as written; the message says why."""


@dataclass(frozen=True, slots=True)
class TermPattern:
    """How one term is found in a folded text.

    `key` goes into the Aho-Corasick automaton: the whole folded term padded with
    spaces (`" high commissioner for human rights "`), or for wildcard terms the
    part before the first `*` with a leading space only (`" верховн"`). A
    wildcard term is then confirmed by `regex`, matched at the key's position.
    """

    term: str  # as written in the rule file
    key: str
    regex: re.Pattern[str] | None
    case_sensitive: bool
    case_length: int  # folded characters, after the leading space, that an acronym check covers


def is_acronym(term: str) -> bool:
    """One word, at least one uppercase letter and no lowercase letter."""
    stripped = term.strip()
    return (
        not any(c.isspace() for c in stripped)
        and any(c.isupper() for c in stripped)
        and not any(c.islower() for c in stripped)
    )


def _check_wildcards(term: str) -> None:
    for position, char in enumerate(term):
        if char != WILDCARD:
            continue
        if position == 0 or not is_word_char(term[position - 1]):
            raise TermSyntaxError(f"term {term!r}: '*' must directly follow a letter or digit (it ends a word)")
        if position + 1 < len(term) and not term[position + 1].isspace():
            raise TermSyntaxError(f"term {term!r}: '*' can only end a word (put a space after it)")


def parse_term(term: str) -> TermPattern:
    """Compile one term as written in a rule file; raise TermSyntaxError if it is unusable."""
    stripped = term.strip()
    if not stripped:
        raise TermSyntaxError("empty term")
    _check_wildcards(stripped)
    segments = stripped.split(WILDCARD)
    folded_segments = [fold_words(segment) for segment in segments]
    words = [word for segment in folded_segments for word in segment]
    if sum(len(word) for word in words) < MIN_CHARACTERS:
        raise TermSyntaxError(f"term {term!r}: needs at least {MIN_CHARACTERS} letters or digits")
    case_sensitive = is_acronym(stripped)
    if len(segments) == 1:
        key = f" {' '.join(words)} "
        return TermPattern(term, key, None, case_sensitive, len(key) - 2)
    parts: list[str] = []
    for number, segment_words in enumerate(folded_segments):
        if segment_words:
            parts.append(re.escape(" " + " ".join(segment_words)))
        if number < len(segments) - 1:
            stem = segment_words[-1] if segment_words else ""
            if len(stem) < MIN_STEM:
                raise TermSyntaxError(
                    f"term {term!r}: wildcard stem {stem!r} is too short (at least {MIN_STEM} letters before '*')"
                )
            parts.append(_WILDCARD_EXTENSION)
    parts.append(" ")
    key = " " + " ".join(folded_segments[0])
    return TermPattern(term, key, re.compile("".join(parts)), case_sensitive, len(key) - 1)
