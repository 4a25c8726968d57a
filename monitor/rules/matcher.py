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
# (hits sort by rule id), the rule id and the term as written.
_Target = tuple[int, str, str]
# A target with what orders the targets of one key: the rule's rank, the term's position in the rule.
_Ranked = tuple[int, int, _Target]
# A pattern whose occurrences need more than the key: pattern id, wildcard regex,
# is an acronym, acronym characters to check, its fast-rule targets, whether an
# evaluated (not fast) rule uses it.
_Probe = tuple[int, "re.Pattern[str] | None", bool, int, tuple[_Target, ...], bool]
# What the automaton holds for one key: its length, the targets of the plain
# patterns with that key (an occurrence of the key is their hit, as is), and the
# probes of the others.
_KeyValue = tuple[int, tuple[_Target, ...], tuple[_Probe, ...]]

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
    occurrence becomes one hit per rule that watches the term (see `_FastHits`).
    The others, evaluated rules, get every occurrence of their patterns and go
    through `evaluate`.
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
        ranks = {rule_id: n for n, rule_id in enumerate(sorted(rule.id for rule in rules))}
        # Report order of fast-rule hits (see `_FastHits.in_report_order`): start, rule rank, longest first, term.
        self._rank = {rule.id: ranks[rule.id] for rule in rules if _is_fast(rule)}
        self._order = {(rule.id, self._terms[p]): n for rule in rules if _is_fast(rule) for p, n in rule.order.items()}
        targets = self._targets(rules, ranks)
        by_key: dict[str, list[tuple[int, re.Pattern[str] | None]]] = {}  # a pattern per spelling it is found in
        for pattern_id, pattern in enumerate(patterns):
            for key, regex in pattern.forms:
                by_key.setdefault(key, []).append((pattern_id, regex))
        # Automaton values are ready to use, so the hot loop reads no attributes.
        self._automaton = ahocorasick.Automaton()
        for key, spellings in by_key.items():
            plain: list[_Ranked] = []
            probes: list[_Probe] = []
            for pattern_id, regex in spellings:
                pattern = patterns[pattern_id]
                mine = targets.get(pattern_id, [])
                needs_probe = regex is not None or pattern.case_sensitive
                if not needs_probe:
                    plain += mine
                if needs_probe or pattern_id in evaluated_patterns:
                    probes.append((
                        pattern_id, regex, pattern.case_sensitive, pattern.case_length,
                        tuple(target for *_, target in sorted(mine)) if needs_probe else (),
                        pattern_id in evaluated_patterns,
                    ))  # fmt: skip
            value: _KeyValue = (len(key), _one_per_rule(plain), tuple(probes))
            self._automaton.add_word(key, value)
        self._automaton.make_automaton()
        self._empty = not by_key

    def _targets(self, rules: tuple[CompiledRule, ...], ranks: dict[str, int]) -> dict[int, list[_Ranked]]:
        """Pattern id -> the fast rules that report its occurrences, with the term's position in each."""
        targets: dict[int, list[_Ranked]] = {}
        for rule in rules:
            if _is_fast(rule):
                for pattern in rule.any:
                    target = (ranks[rule.id], rule.id, self._terms[pattern])
                    targets.setdefault(pattern, []).append((ranks[rule.id], rule.order[pattern], target))
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
            fast = _FastHits(self._rule_count)
            self._find(view, field, fast, found)
            if view.has_hyphen_breaks:  # also read `Re-\nview` as one word
                self._find(fold_text(text, join_hyphen_breaks=True), field, fast, found)
            if fast.hits:
                fast_hits += fast.hits if fast.in_report_order else self._report_order(fast.hits)
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

    def _report_order(self, hits: list[Hit]) -> list[Hit]:
        """The hits of fast rules in one field in report order: by start, rule, longest
        first, term position; per rule, only the outermost of nested occurrences (as
        `clauses._drop_contained` keeps them)."""
        rank, order = self._rank, self._order
        hits.sort(key=lambda hit: (hit.start, rank[hit.rule], -hit.end, order[hit.rule, hit.term]))
        furthest = [-1] * self._rule_count  # per rule rank: the end of the last hit kept
        kept = []
        for hit in hits:
            rule_rank = rank[hit.rule]
            if hit.end > furthest[rule_rank]:  # else inside (or the same as) a hit of this rule already kept
                furthest[rule_rank] = hit.end
                kept.append(hit)
        return kept

    def _find(self, view: FoldedText, field: Field, fast: _FastHits, found: dict[int, set[Span]]) -> None:
        """Record where each pattern occurs in one folded field: a hit per fast rule
        that reports it, and a span in `found` if an evaluated rule uses it."""
        text = view.text
        original = view.original
        shift = view.shift() if view.plain else None
        removed = len(shift) if shift is not None else 0
        position = view.positions.item if view.positions is not None else None  # texts with Han
        search = bisect_right
        add = fast.hits.append
        furthest = fast.furthest
        last_start, in_order = fast.last_start, fast.in_report_order
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
                # inlined `fast.add(field, start, end, original[start:end], targets)`
                if start <= last_start:
                    in_order = False
                last_start = start
                matched = original[start:end]
                for rank, rule_id, term in targets:
                    if end <= furthest[rank] and in_order:
                        continue  # inside (or the same as) a hit of this rule already kept
                    furthest[rank] = end
                    add(_new_hit(Hit, (rule_id, term, field, start, end, matched)))
            if probes:
                fast.last_start, fast.in_report_order = last_start, in_order
                _probe(view, field, begin, last, probes, fast, found)
                last_start, in_order = fast.last_start, fast.in_report_order
        fast.last_start, fast.in_report_order = last_start, in_order


def _one_per_rule(plain: list[_Ranked]) -> tuple[_Target, ...]:
    """The targets of one key's plain patterns in report order (rule rank, then term
    position), and only the first per rule: the others are the same span, which
    the rule reports once."""
    chosen: dict[int, _Target] = {}
    for rank, _, target in sorted(plain):
        chosen.setdefault(rank, target)
    return tuple(chosen.values())


class _FastHits:
    """The hits of fast rules in one field, collected in the order the automaton
    reports occurrences (by where they end).

    Hits are reported by start, then rule, longest first, then term position,
    and per rule only the outermost of nested occurrences counts. The
    automaton's order is already that one as long as each occurrence starts
    after the previous one (the targets of one occurrence are stored in rule
    order): then a hit inside one its rule already has is simply not added.
    Occurrences that start no later than the previous one (a term nested in a
    longer one that ends later, the second reading of a hyphen break) are rare;
    `in_report_order` then turns False, every hit is added, and
    `Matcher._report_order` sorts and filters them. A hit skipped before that
    is one the sort would drop too: a hit of its rule that contains it comes
    before it in any order.
    """

    __slots__ = ("furthest", "hits", "in_report_order", "last_start")

    def __init__(self, rule_count: int) -> None:
        self.hits: list[Hit] = []
        self.furthest = [-1] * rule_count  # per rule rank: the end of the last hit added
        self.last_start = -1
        self.in_report_order = True

    def add(self, field: Field, start: int, end: int, matched: str, targets: tuple[_Target, ...]) -> None:
        """The hits of one occurrence `[start, end)` for `targets`."""
        if start <= self.last_start:
            self.in_report_order = False
        self.last_start = start
        for rank, rule_id, term in targets:
            if end <= self.furthest[rank] and self.in_report_order:
                continue
            self.furthest[rank] = end
            self.hits.append(Hit(rule_id, term, field, start, end, matched))


def _probe(
    view: FoldedText,
    field: Field,
    begin: int,
    last: int,
    probes: tuple[_Probe, ...],
    fast: _FastHits,
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
        if targets:
            fast.add(field, start, end, view.original[start:end], targets)
        if evaluated:
            found.setdefault(pattern_id, set()).add((field, start, end))
