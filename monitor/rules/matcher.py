"""The compiled form of a rule set: one Aho-Corasick pass per field finds every term.

Compiling folds every distinct term once and puts its key into one automaton
(see `terms.TermPattern`). Scanning folds the field (see `folding`), walks the
automaton over it once, and verifies only the candidates it reports: wildcard
terms by a regex anchored at the candidate, acronyms by the case of the
original characters. Word boundaries need no check at all, because keys carry
the spaces that delimit words in the folded view. Cost therefore grows with
the text and with the number of actual matches, not with the number of terms.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

import ahocorasick

from monitor.items import Field, Hit, Item
from monitor.rules.clauses import CompiledRule, Span, evaluate
from monitor.rules.folding import FoldedText, fold_text
from monitor.rules.ruleset import ALL_FIELDS, Rule, RuleSet
from monitor.rules.terms import TermPattern, parse_term

# pattern id, key length, wildcard regex, is an acronym, acronym characters to check
_Probe = tuple[int, int, "re.Pattern[str] | None", bool, int]


_FIELD_ORDER = {"title": 0, "text": 1}


def _HIT_ORDER(hit: Hit) -> tuple[int, int, str]:  # noqa: N802 - used as a sort key constant
    return (_FIELD_ORDER[hit.field], hit.start, hit.rule)


class _Compiler:
    """Gives each distinct term one pattern id, shared by every rule that uses it."""

    def __init__(self) -> None:
        self.patterns: list[TermPattern] = []
        self._ids: dict[str, int] = {}

    def ids(self, terms: Iterable[str]) -> tuple[int, ...]:
        result = []
        for term in terms:
            if term not in self._ids:
                self._ids[term] = len(self.patterns)
                self.patterns.append(parse_term(term))
            result.append(self._ids[term])
        return tuple(dict.fromkeys(result))

    def rule(self, rule: Rule) -> CompiledRule:
        return CompiledRule(
            id=rule.id,
            fields=frozenset(rule.fields),
            any=frozenset(self.ids(rule.any_terms)),
            all=tuple(frozenset(self.ids(group)) for group in rule.all_groups),
            near=tuple((frozenset(self.ids(c.terms)), frozenset(self.ids(c.with_terms)), c.within) for c in rule.near),
            exclude=frozenset(self.ids(rule.exclude)),
            order={pattern: n for n, pattern in enumerate(self.ids(rule.terms))},
            is_simple=not (rule.all_groups or rule.near or rule.exclude),
        )


def compile_rules(ruleset: RuleSet) -> Matcher:
    """Compile once, scan many times: build the matcher for `ruleset`."""
    compiler = _Compiler()
    rules = tuple(compiler.rule(rule) for rule in ruleset.rules)
    return Matcher(rules, tuple(compiler.patterns))


class Matcher:
    """Scans items for the rules it was compiled from. Immutable, safe to share."""

    def __init__(self, rules: tuple[CompiledRule, ...], patterns: tuple[TermPattern, ...]) -> None:
        self._rules = rules
        self._terms = tuple(p.term for p in patterns)
        self._rules_of: dict[int, tuple[int, ...]] = {}
        for number, rule in enumerate(rules):
            for trigger in rule.triggers:
                self._rules_of[trigger] = (*self._rules_of.get(trigger, ()), number)
        watched = {field for rule in rules for field in rule.fields}
        self._fields: tuple[Field, ...] = tuple(f for f in ALL_FIELDS if f in watched)
        # Automaton values are ready-to-use probes, so the hot loop reads no attributes.
        keys: dict[str, list[_Probe]] = {}
        for pattern_id, pattern in enumerate(patterns):
            probe = (pattern_id, len(pattern.key), pattern.regex, pattern.case_sensitive, pattern.case_length)
            keys.setdefault(pattern.key, []).append(probe)
        self._automaton = ahocorasick.Automaton()
        for key, probes in keys.items():
            self._automaton.add_word(key, tuple(probes))
        self._automaton.make_automaton()
        self._empty = not keys

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self._rules)

    def scan(self, item: Item) -> list[Hit]:
        """Every hit of every rule that fires on `item`, sorted title first, then by position and rule."""
        if self._empty:
            return []
        found: dict[int, set[Span]] = {}
        views: dict[Field, FoldedText] = {}
        for field in self._fields:
            text = item.title if field == "title" else item.text
            if not text:
                continue
            view = fold_text(text)
            views[field] = view
            self._find(view, field, found)
            if view.has_hyphen_breaks:  # also read `Re-\nview` as one word
                self._find(fold_text(text, join_hyphen_breaks=True), field, found)
        if not found:
            return []
        candidates = {number for pattern in found for number in self._rules_of.get(pattern, ())}
        hits = [hit for number in candidates for hit in evaluate(self._rules[number], found, views, self._terms)]
        if len(candidates) > 1:  # each rule's hits come sorted, with unique (field, start)
            hits.sort(key=_HIT_ORDER)
        return hits

    def _find(self, view: FoldedText, field: Field, found: dict[int, set[Span]]) -> None:
        """Record where each pattern occurs in one folded field."""
        text = view.text
        original = view.original
        plain = view.plain
        shift: list[int] | None = None
        for last, probes in self._automaton.iter(text):
            for pattern_id, key_length, regex, case_sensitive, case_length in probes:
                begin = last - key_length + 1  # the space before the first word
                if regex is None:
                    stop = last  # the space after the last word
                else:
                    match = regex.match(text, begin)
                    if match is None:
                        continue
                    stop = match.end() - 1
                if plain:  # inlined `view.original_span(begin + 1, stop)`: this loop is the hot path
                    if shift is None:
                        shift = view.shift()
                    start = begin + bisect_right(shift, begin)
                    end = stop - 1 + bisect_right(shift, stop - 2)
                else:
                    start, end = view.original_span(begin + 1, stop)
                if case_sensitive:  # an acronym written with a lowercase letter is another word
                    stem_end = end if regex is None else view.original_span(begin + 1, begin + 1 + case_length)[1]
                    if not original[start:stem_end].isupper():
                        continue
                found.setdefault(pattern_id, set()).add((field, start, end))
