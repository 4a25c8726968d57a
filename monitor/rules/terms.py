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

Two scripts need more than whole words (see `folding` for how they fold):

* Han: every character is a word of its own, so a term in Han script matches
  inside running text with no boundary on its Han side; a `*` after a Han
  character would mean nothing and is an error.
* Arabic writes the conjunctions و ف, the prepositions ب ك ل and the article
  ال as part of the next word. A term whose first word is Arabic also matches
  with any of them, and their combinations, attached to that word
  (`منظمة العمل الدولية` also finds `لمنظمة`, `وبمنظمة`, `والمنظمة`, and
  `المفوضية` also finds `للمفوضية`, `وللمفوضية`, `بالمفوضية`); the hit covers
  the word as written, prefix included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.errors import RuleError
from monitor.rules.folding import fold_words, is_unspaced, is_word_char

WILDCARD = "*"
MIN_STEM = 3
MIN_CHARACTERS = 2
_WILDCARD_EXTENSION = "[^ ]*"  # the rest of a word in the folded view: anything up to the next space


class TermSyntaxError(RuleError, ValueError):
    """A term that cannot be matched as written; the message says why."""


# Arabic proclitics, outermost first: a conjunction, then a preposition, then the article.
_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ك", "ل")
_ARTICLE = "ال"
_ARABIC_LETTERS = re.compile("[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff]")

Form = tuple[str, "re.Pattern[str] | None"]  # an automaton key, and the regex that confirms it (wildcards)


@dataclass(frozen=True, slots=True)
class TermPattern:
    """How one term is found in a folded text.

    `key` goes into the Aho-Corasick automaton: the whole folded term padded with
    spaces (`" high commissioner for human rights "`), or for wildcard terms the
    part before the first `*` with a leading space only (`" верховн"`). A
    wildcard term is then confirmed by `regex`, matched at the key's position.
    `forms` holds `(key, regex)` for every spelling the term is looked for in:
    the term itself first, then (Arabic) the term with proclitics.
    """

    term: str  # as written in the rule file
    key: str
    regex: re.Pattern[str] | None
    case_sensitive: bool
    case_length: int  # folded characters, after the leading space, that an acronym check covers
    forms: tuple[Form, ...] = ()


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
        if is_unspaced(term[position - 1]):
            raise TermSyntaxError(
                f"term {term!r}: '*' cannot follow a Han or kana character: every such character is a word"
                " of its own, and the term already matches inside running text"
            )
        if position + 1 < len(term) and not term[position + 1].isspace():
            raise TermSyntaxError(f"term {term!r}: '*' can only end a word (put a space after it)")


def arabic_prefixed(word: str) -> list[str]:
    """The folded Arabic `word` with every combination of proclitics attached
    (the word itself not included): وال، بال، لل، وبال، فلل، ..."""
    with_article = word if word.startswith(_ARTICLE) else _ARTICLE + word
    bases = [word] if word.startswith(_ARTICLE) else [word, with_article]
    forms: dict[str, None] = {}
    for conjunction in _CONJUNCTIONS:
        for preposition in _PREPOSITIONS:
            for base in bases:
                if preposition == "ل" and base.startswith(_ARTICLE):
                    # ل + ال drops the alef (للمفوضية), and a third lam in a row is not written (للجنة)
                    joined = base[1:] if base.startswith(_ARTICLE + "ل") else "ل" + base[1:]
                else:
                    joined = preposition + base
                forms[conjunction + joined] = None
    forms.pop(word, None)
    return list(forms)


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
    key, regex = _form(term, folded_segments)
    forms = [(key, regex)]
    first = folded_segments[0][0] if folded_segments[0] else ""
    if _ARABIC_LETTERS.match(first):
        for prefixed in arabic_prefixed(first):
            variant = [[prefixed, *folded_segments[0][1:]], *folded_segments[1:]]
            forms.append(_form(term, variant))
    case_length = len(key) - (2 if regex is None else 1)
    return TermPattern(term, key, regex, case_sensitive, case_length, tuple(forms))


def _form(term: str, folded_segments: list[list[str]]) -> Form:
    """The automaton key and confirming regex of one spelling of a term."""
    if len(folded_segments) == 1:
        return f" {' '.join(folded_segments[0])} ", None
    parts: list[str] = []
    for number, segment_words in enumerate(folded_segments):
        if segment_words:
            parts.append(re.escape(" " + " ".join(segment_words)))
        if number < len(folded_segments) - 1:
            stem = segment_words[-1] if segment_words else ""
            if len(stem) < MIN_STEM:
                raise TermSyntaxError(
                    f"term {term!r}: wildcard stem {stem!r} is too short (at least {MIN_STEM} letters before '*')"
                )
            parts.append(_WILDCARD_EXTENSION)
    parts.append(" ")
    return " " + " ".join(folded_segments[0]), re.compile("".join(parts))
