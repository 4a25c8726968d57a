"""Deciding whether a rule fires, from where its terms were found.

The matcher finds every occurrence of every term once; this module applies one
rule's logic to them: exclusions first (an occurrence overlapping an excluded
phrase never counts), then the clauses (any / all / near), then it keeps the
hits worth showing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.items import Field, Hit
from monitor.rules.folding import FoldedText
from monitor.rules.ruleset import ALL_FIELDS

Span = tuple[Field, int, int]  # field, start, end in the original text
Found = Mapping[int, set[Span]]  # pattern id -> where it was found
Mention = tuple[Span, int]  # a span and the pattern that found it
_FIELD_RANK = {field: number for number, field in enumerate(ALL_FIELDS)}  # hits: title first


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
    is_simple: bool = False  # only `any` terms and no exclusions: every mention found is a hit

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


def evaluate(rule: CompiledRule, found: Found, views: Mapping[Field, FoldedText], terms: Sequence[str]) -> list[Hit]:
    """The hits of `rule` in one item, title first then by start, or [] if it does not fire.

    `views` holds the folded view of each scanned field (its `original` is the
    field's text); `terms` maps pattern ids to the terms as written.
    """
    fields = rule.fields
    if rule.is_simple:  # only `any`, no exclusions: the common case, kept cheap
        mentions = [
            (span, pattern) for pattern in rule.any & found.keys() for span in found[pattern] if span[0] in fields
        ]
        return _hits(rule, mentions, views, terms)
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
