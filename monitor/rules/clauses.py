"""Deciding whether a rule fires, from where its terms were found.

The matcher finds every occurrence of every term once; this module applies one
rule's logic to them: first what the item itself rules out (terms bound to
languages the item is not in, acronyms the item defines as something else),
then exclusions (an occurrence overlapping an excluded phrase never counts),
then the clauses (any / all / near), then it keeps the hits worth showing.
Mentions ruled out for a reason an analyst would not guess are reported as
`SetAside`, so that `monitor classify` can say why they do not count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from monitor.items import Field, Hit
from monitor.rules.acronyms import FUNCTION_WORDS, Definition, definition_at
from monitor.rules.folding import FoldedText, fold_words
from monitor.rules.ruleset import ALL_FIELDS

Span = tuple[Field, int, int]  # field, start, end in the original text
Found = Mapping[int, set[Span]]  # pattern id -> where it was found
Mention = tuple[Span, int]  # a span and the pattern that found it
_FIELD_RANK = {field: number for number, field in enumerate(ALL_FIELDS)}  # hits: title first


class SetAside(NamedTuple):
    """A mention of a rule's term that does not count for the rule, and why."""

    rule: str
    term: str  # as written in the rule file
    field: Field
    start: int
    end: int
    matched: str
    reason: str  # "counts only in fr, es text; this item is en", "the item defines OIT as ..."


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule whose terms are pattern ids of the matcher that compiled it."""

    id: str
    fields: frozenset[Field]
    any: frozenset[int]
    all: tuple[frozenset[int], ...]
    near: tuple[tuple[frozenset[int], frozenset[int], int], ...]
    exclude: frozenset[int]
    order: Mapping[int, int]  # pattern id -> position of its term in the rule, for stable tie-breaks
    is_simple: bool = False  # only `any` terms, no exclusions, nothing ruled out: every mention found is a hit
    bound: Mapping[int, frozenset[str]] = dataclasses.field(default_factory=dict)  # pattern id -> the languages it counts in
    languages: frozenset[str] = frozenset()  # the rule counts only items in these (empty: any)
    acronyms: frozenset[int] = frozenset()  # acronyms an item's own definition can rule out
    own: frozenset[int] = frozenset()  # the rule's other terms: a long form they find is the rule's own
    vocabulary: frozenset[str] = frozenset()  # their folded words: a long form made of these is the rule's own
    stems: tuple[str, ...] = ()  # and their wildcard stems

    @property
    def triggers(self) -> frozenset[int]:
        """Patterns whose occurrence can make the rule fire (exclusions cannot)."""
        ids = set(self.any)
        for group in self.all:
            ids.update(group)
        for left, right, _ in self.near:
            ids.update(left)
            ids.update(right)
        return frozenset(ids)


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def words_between(view: FoldedText, a: Span, b: Span) -> int:
    """How many words separate two hits of the same field (0 when they overlap)."""
    if _overlaps(a, b):
        return 0
    first, second = (a, b) if a[1] <= b[1] else (b, a)
    return view.count_words(first[2], second[1])


def _drop_contained(mentions: list[Mention], order: Mapping[int, int]) -> list[tuple[Field, int, int, int]]:
    """Keep the longest of nested hits: `High Commissioner for Human Rights` inside
    `Office of the ... High Commissioner for Human Rights` explains nothing more.
    Of identical spans found by several terms, the term written first is kept.
    The result is sorted by field (title first) and start, and no two hits share a start."""
    ranked = [(_FIELD_RANK[field], start, -end, order[pattern], pattern, field)
              for (field, start, end), pattern in mentions]
    ranked.sort()
    kept = []
    field_now: Field | None = None
    furthest = -1
    for _, start, negative_end, _, pattern, field in ranked:
        if field != field_now:
            field_now, furthest = field, -1
        if -negative_end <= furthest:
            continue
        furthest = -negative_end
        kept.append((field, start, furthest, pattern))
    return kept


@dataclass
class ItemScope:
    """What evaluating rules may need of the item beyond the matches: its language
    (worked out on first use: most items never need it) and where to report the
    mentions set aside (None: nobody asked)."""

    language_of: Callable[[], str | None]
    set_aside: list[SetAside] | None = None
    _language: list[str | None] = dataclasses.field(default_factory=list)

    @property
    def language(self) -> str | None:
        if not self._language:
            self._language.append(self.language_of())
        return self._language[0]


def _ruled_out(
    rule: CompiledRule, found: Found, views: Mapping[Field, FoldedText], terms: Sequence[str], scope: ItemScope
) -> set[int]:
    """Patterns whose mentions do not count for `rule` in this item: acronyms the
    item defines as something else, or bound to other languages (both reasons
    are given when both hold)."""
    reasons: dict[int, list[str]] = {}
    own = [span for pattern in rule.own & found.keys() for span in found[pattern]]
    for pattern in rule.acronyms & found.keys():
        for field_, start, end in sorted(found[pattern]):
            text = views[field_].original
            definition = definition_at(text, start, end)
            if definition is not None and not _is_own(rule, own, field_, text, definition):
                defined = text[definition.start : definition.end]
                reasons[pattern] = [f"the item defines {text[start:end]} as something else: {defined!r}"]
                break
    for pattern in rule.bound.keys() & found.keys():
        if scope.language not in rule.bound[pattern]:  # an exclusion bound to other languages excludes nothing
            shown = ", ".join(sorted(rule.bound[pattern]))
            reasons.setdefault(pattern, []).append(f"counts only in {shown} text; {_this_item(scope)}")
    for pattern, why in reasons.items():
        if pattern in rule.triggers:
            _report(rule, pattern, found, views, terms, scope, "; ".join(why))
    return set(reasons)


def _is_own(rule: CompiledRule, own: list[Span], field_: Field, text: str, definition: Definition) -> bool:
    """Is the long form one of the rule's own names: found by one of its terms, or
    made of their words only ("Organización Internacional de Trabajo", a slip
    for "del")?"""
    if any(f == field_ and s < definition.long_end and definition.long_start < e for f, s, e in own):
        return True
    words = [w for w in fold_words(text[definition.long_start : definition.long_end]) if w not in FUNCTION_WORDS]
    return all(word in rule.vocabulary or word.startswith(rule.stems) for word in words)


def _this_item(scope: ItemScope) -> str:
    language = scope.language
    return f"this item is {language}" if language else "this item's language is unknown"


def _report(
    rule: CompiledRule,
    pattern: int,
    found: Found,
    views: Mapping[Field, FoldedText],
    terms: Sequence[str],
    scope: ItemScope,
    reason: str,
) -> None:
    if scope.set_aside is None:
        return
    for field_, start, end in sorted(found[pattern], key=lambda span: (_FIELD_RANK[span[0]], span[1])):
        if field_ in rule.fields:
            matched = views[field_].original[start:end]
            scope.set_aside.append(SetAside(rule.id, terms[pattern], field_, start, end, matched, reason))


def evaluate(
    rule: CompiledRule,
    found: Found,
    views: Mapping[Field, FoldedText],
    terms: Sequence[str],
    scope: ItemScope | None = None,
) -> list[Hit]:
    """The hits of `rule` in one item, title first then by start, or [] if it does not fire.

    `views` holds the folded view of each scanned field (its `original` is the
    field's text); `terms` maps pattern ids to the terms as written; `scope` is
    what the rule may need of the item beyond that (its language).
    """
    fields = rule.fields
    if rule.is_simple:  # only `any`, no exclusions, nothing to rule out: the common case, kept cheap
        mentions = [
            (span, pattern) for pattern in rule.any & found.keys() for span in found[pattern] if span[0] in fields
        ]
        return _hits(rule, mentions, views, terms)
    if scope is None:
        scope = ItemScope(lambda: None)
    if rule.languages and scope.language not in rule.languages:
        if scope.set_aside is not None:
            reason = f"the rule counts only {', '.join(sorted(rule.languages))} text; {_this_item(scope)}"
            for pattern in rule.triggers & found.keys():
                _report(rule, pattern, found, views, terms, scope, reason)
        return []
    ruled_out = _ruled_out(rule, found, views, terms, scope) if rule.bound or rule.acronyms else set()
    if ruled_out:
        found = {pattern: spans for pattern, spans in found.items() if pattern not in ruled_out}
    excluded = [span for pattern in rule.exclude & found.keys() for span in found[pattern] if span[0] in fields]
    live_cache: dict[int, list[Mention]] = {}

    def live(patterns: frozenset[int]) -> list[Mention]:
        """Counting mentions of `patterns`; only patterns found at all are looked at,
        so a rule with thousands of terms costs what it found, not what it lists."""
        result: list[Mention] = []
        for pattern in patterns & found.keys():
            mentions = live_cache.get(pattern)
            if mentions is None:
                mentions = live_cache[pattern] = [
                    (span, pattern)
                    for span in found[pattern]
                    if span[0] in fields and not (excluded and any(_overlaps(span, x) for x in excluded))
                ]
            result += mentions
        return result

    selected = live(rule.any)
    if rule.all or rule.near:
        chosen = set(selected)
        if rule.all:
            groups = [live(group) for group in rule.all]
            if all(groups):
                for group_mentions in groups:
                    chosen.update(group_mentions)
        for left, right, within in rule.near:
            right_mentions = live(right)
            for a in live(left):
                for b in right_mentions:
                    if a[0][0] != b[0][0] or a[0] == b[0]:
                        continue  # other field, or the very same mention
                    if words_between(views[a[0][0]], a[0], b[0]) <= within:
                        chosen.add(a)
                        chosen.add(b)
        selected = list(chosen)
    return _hits(rule, selected, views, terms)


def _hits(
    rule: CompiledRule, mentions: list[Mention], views: Mapping[Field, FoldedText], terms: Sequence[str]
) -> list[Hit]:
    if not mentions:
        return []
    rule_id = rule.id
    texts = {field: view.original for field, view in views.items()}
    # Positional in Hit's field order (rule, term, field, start, end, matched): this
    # runs once per hit, and keywords cost a third more.
    return [
        Hit(rule_id, terms[pattern], field, start, end, texts[field][start:end])
        for field, start, end, pattern in _drop_contained(mentions, rule.order)
    ]
