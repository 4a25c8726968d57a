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

from monitor.items import Field, Hit, ItemText
from monitor.language import detect_language, primary
from monitor.rules.clauses import CompiledRule, ItemScope, SetAside, Span, evaluate
from monitor.rules.folding import FoldedText, fold_text, fold_words
from monitor.rules.ruleset import ALL_FIELDS, Rule, RuleSet
from monitor.rules.terms import WILDCARD, TermPattern, is_acronym, parse_term

# A fast rule (see `Matcher`) as one of its patterns sees it: the rank of its id
# (hits sort by rule id), the position of the term in the rule, the rule id and
# the term as written.
_Target = tuple[int, int, str, str]
# A pattern whose occurrences need more than the key: pattern id, wildcard regex,
# is an acronym, acronym characters to check, its fast-rule targets, whether an
# evaluated (not fast) rule uses it.
_Probe = tuple[int, "re.Pattern[str] | None", bool, int, tuple[_Target, ...], bool]
# What the automaton holds for one key: its length, the targets of the plain
# patterns with that key (an occurrence of the key is their hit, as is), and the
# probes of the others.
_KeyValue = tuple[int, tuple[_Target, ...], tuple[_Probe, ...]]
# A candidate hit of a fast rule in one field, in the order hits are reported:
# start, rank, -end (longest first), term position, rule id, term
_Entry = tuple[int, int, int, int, str, str]

# `Hit(...)` without the Python-level `__new__` of a NamedTuple, for the hot loop.
_new_hit = tuple.__new__

_FIELD_ORDER = {field: number for number, field in enumerate(ALL_FIELDS)}


def _HIT_ORDER(hit: Hit) -> tuple[int, int, str]:  # noqa: N802 - used as a sort key constant
    return (_FIELD_ORDER[hit.field], hit.start, hit.rule)


def _is_fast(rule: CompiledRule) -> bool:
    """Only `any` terms, no exclusions, every field: each occurrence is a hit."""
    return rule.is_simple and rule.fields.issuperset(ALL_FIELDS)


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
        bound = {self.ids([term])[0]: languages for term, languages in rule.term_languages}
        acronyms: set[int] = set()
        own: dict[str, int] = {}
        if rule.acronyms_defined_otherwise == "ignore":
            triggers = [*rule.any_terms, *(t for g in rule.all_groups for t in g)]
            triggers += [t for c in rule.near for t in (*c.terms, *c.with_terms)]
            for term in triggers:
                if is_acronym(term):
                    acronyms.add(self.ids([term])[0])
                else:
                    own[term] = self.ids([term])[0]
        vocabulary, stems = _vocabulary(own)
        return CompiledRule(
            id=rule.id,
            fields=frozenset(rule.fields),
            any=frozenset(self.ids(rule.any_terms)),
            all=tuple(frozenset(self.ids(group)) for group in rule.all_groups),
            near=tuple((frozenset(self.ids(c.terms)), frozenset(self.ids(c.with_terms)), c.within) for c in rule.near),
            exclude=frozenset(self.ids(rule.exclude)),
            order={pattern: n for n, pattern in enumerate(self.ids(rule.terms))},
            is_simple=not (rule.all_groups or rule.near or rule.exclude or bound or rule.languages or acronyms),
            bound=bound,
            languages=rule.languages,
            acronyms=frozenset(acronyms),
            own=frozenset(own.values()),
            vocabulary=vocabulary,
            stems=stems,
        )


def _vocabulary(terms: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The folded words of `terms`, and the stems of their wildcard words."""
    words: set[str] = set()
    stems: set[str] = set()
    for term in terms:
        for written in term.split():
            folded = fold_words(written.removesuffix(WILDCARD))
            if written.endswith(WILDCARD) and folded:
                stems.add(folded.pop())
            words.update(folded)
    return frozenset(words), tuple(sorted(stems))


def compile_rules(ruleset: RuleSet) -> Matcher:
    """Compile once, scan many times: build the matcher for `ruleset`."""
    compiler = _Compiler()
    rules = tuple(compiler.rule(rule) for rule in ruleset.rules)
    return Matcher(rules, tuple(compiler.patterns))


class Matcher:
    """Scans items for the rules it was compiled from. Immutable, safe to share.

    Fast rules (see `_is_fast`), the common kind, skip `evaluate`: each key
    occurrence becomes one sortable entry per rule that watches the term, and a
    sorted sweep turns them into hits. The others, evaluated rules, get every
    occurrence of their patterns and go through `evaluate`.
    """

    def __init__(self, rules: tuple[CompiledRule, ...], patterns: tuple[TermPattern, ...]) -> None:
        self._rules = rules
        self._terms = tuple(p.term for p in patterns)
        self._rule_count = len(rules)
        self._rules_of: dict[int, tuple[int, ...]] = {}  # pattern -> the evaluated (not fast) rules it triggers
        evaluated_patterns: set[int] = set()
        for number, rule in enumerate(rules):
            if not _is_fast(rule):
                for trigger in rule.triggers:
                    self._rules_of[trigger] = (*self._rules_of.get(trigger, ()), number)
                evaluated_patterns.update(rule.triggers, rule.exclude)
        watched = {field for rule in rules for field in rule.fields}
        self._fields = tuple(field for field in ALL_FIELDS if field in watched)
        targets = self._targets(rules)
        by_key: dict[str, list[tuple[int, re.Pattern[str] | None]]] = {}  # a pattern per spelling it is found in
        for pattern_id, pattern in enumerate(patterns):
            for key, regex in pattern.forms:
                by_key.setdefault(key, []).append((pattern_id, regex))
        # Automaton values are ready to use, so the hot loop reads no attributes.
        self._automaton = ahocorasick.Automaton()
        for key, spellings in by_key.items():
            plain: list[_Target] = []
            probes: list[_Probe] = []
            for pattern_id, regex in spellings:
                pattern = patterns[pattern_id]
                mine = tuple(targets.get(pattern_id, ()))
                needs_probe = regex is not None or pattern.case_sensitive
                if not needs_probe:
                    plain += mine
                if needs_probe or pattern_id in evaluated_patterns:
                    probes.append((
                        pattern_id, regex, pattern.case_sensitive, pattern.case_length,
                        mine if needs_probe else (), pattern_id in evaluated_patterns,
                    ))  # fmt: skip
            value: _KeyValue = (len(key), tuple(plain), tuple(probes))
            self._automaton.add_word(key, value)
        self._automaton.make_automaton()
        self._empty = not by_key

    def _targets(self, rules: tuple[CompiledRule, ...]) -> dict[int, list[_Target]]:
        """Pattern id -> the fast rules that report its occurrences."""
        rank = {rule_id: n for n, rule_id in enumerate(sorted(rule.id for rule in rules))}
        targets: dict[int, list[_Target]] = {}
        for rule in rules:
            if _is_fast(rule):
                for pattern in rule.any:
                    target = (rank[rule.id], rule.order[pattern], rule.id, self._terms[pattern])
                    targets.setdefault(pattern, []).append(target)
        return targets

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self._rules)

    def scan(self, item: ItemText, set_aside: list[SetAside] | None = None) -> list[Hit]:
        """Every hit of every rule that fires on `item`, sorted title first, then by position and rule.

        Rules with language-bound terms use `item.language` (detected from the
        item's words if it has none); mentions that do not count for such a
        reason are appended to `set_aside`, if given.
        """
        if self._empty:
            return []
        fast_hits: list[Hit] = []
        found: dict[int, set[Span]] = {}  # occurrences of the patterns of evaluated rules
        views: dict[Field, FoldedText] = {}
        for field in self._fields:
            text = item.title if field == "title" else item.text
            if not text:
                continue
            view = fold_text(text)
            views[field] = view
            entries: list[_Entry] = []
            self._find(view, field, entries, found)
            if view.has_hyphen_breaks:  # also read `Re-\nview` as one word
                self._find(fold_text(text, join_hyphen_breaks=True), field, entries, found)
            if entries:
                fast_hits += self._fast_hits(entries, field, text)
        hits = fast_hits
        if found:
            candidates = {number for pattern in found for number in self._rules_of.get(pattern, ())}
            scope = ItemScope(lambda: primary(item.language) or detect_language(item.title, item.text), set_aside)
            evaluated_hits = [
                hit
                for number in sorted(candidates)
                for hit in evaluate(self._rules[number], found, views, self._terms, scope)
            ]
            if evaluated_hits:
                hits = sorted(fast_hits + evaluated_hits, key=_HIT_ORDER)
        return hits

    def _fast_hits(self, entries: list[_Entry], field: Field, original: str) -> list[Hit]:
        """The hits of fast rules in one field: per rule, the outermost of nested
        occurrences (as `clauses._drop_contained` keeps them), in report order."""
        entries.sort()
        furthest = [-1] * self._rule_count  # per rule rank: the end of the last hit kept
        hits = []
        for start, rank, negative_end, _, rule_id, term in entries:
            end = -negative_end
            if end <= furthest[rank]:
                continue  # inside (or the same as) a hit of this rule already kept
            furthest[rank] = end
            hits.append(_new_hit(Hit, (rule_id, term, field, start, end, original[start:end])))
        return hits

    def _find(self, view: FoldedText, field: Field, entries: list[_Entry], found: dict[int, set[Span]]) -> None:
        """Record where each pattern occurs in one folded field: an entry per fast
        rule that reports it, and a span in `found` if an evaluated rule uses it."""
        text = view.text
        shift = view.shift() if view.plain else None
        removed = len(shift) if shift is not None else 0
        position = view.positions.item if view.positions is not None else None  # texts with Han
        add = entries.append
        search = bisect_right
        for last, (key_length, targets, probes) in self._automaton.iter(text):
            begin = last - key_length + 1  # the space before the first word
            if targets:  # the whole key is the match: the common case, kept cheap
                if shift is not None:  # inlined `view.original_span(begin + 1, last)`
                    dropped = search(shift, begin)  # characters the view dropped before the match
                    start = begin + dropped
                    if dropped < removed and shift[dropped] <= last - 2:  # and inside it: rare
                        dropped = search(shift, last - 2, dropped)
                    end = last - 1 + dropped
                elif position is not None:
                    start, end = position(begin), position(last - 2) + 1
                else:
                    start, end = view.original_span(begin + 1, last)
                negative_end = -end
                for rank, order, rule_id, term in targets:
                    add((start, rank, negative_end, order, rule_id, term))
            if probes:
                _probe(view, field, begin, last, probes, entries, found)


def _probe(
    view: FoldedText,
    field: Field,
    begin: int,
    last: int,
    probes: tuple[_Probe, ...],
    entries: list[_Entry],
    found: dict[int, set[Span]],
) -> None:
    """Check the patterns of one key occurrence that need more than the key:
    a wildcard must match, an acronym must be written in capitals."""
    text = view.text
    for pattern_id, regex, case_sensitive, case_length, targets, evaluated in probes:
        if regex is None:
            stop = last  # the space after the last word
        else:
            match = regex.match(text, begin)
            if match is None:
                continue
            stop = match.end() - 1
        start, end = view.original_span(begin + 1, stop)
        if case_sensitive:  # an acronym written with a lowercase letter is another word
            stem_end = end if regex is None else view.original_span(begin + 1, begin + 1 + case_length)[1]
            if not view.original[start:stem_end].isupper():
                continue
        for rank, order, rule_id, term in targets:
            entries.append((start, rank, -end, order, rule_id, term))
        if evaluated:
            found.setdefault(pattern_id, set()).add((field, start, end))
