"""Loaded, validated rules: plain immutable values, independent of TOML and of matching."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from monitor.errors import RuleError
from monitor.items import Field

ALL_FIELDS: tuple[Field, ...] = ("title", "text")
AcronymPolicy = Literal["count", "ignore"]


@dataclass(frozen=True, slots=True)
class NearClause:
    """Satisfied when a hit of `terms` and a hit of `with_terms` (a different
    mention, same field) have at most `within` words between them."""

    terms: tuple[str, ...]
    with_terms: tuple[str, ...]
    within: int


@dataclass(frozen=True, slots=True)
class Rule:
    """One watch rule. It fires when any of its clauses (any / all / near) is satisfied."""

    id: str
    description: str
    source_file: Path
    fields: tuple[Field, ...] = ALL_FIELDS
    any_terms: tuple[str, ...] = ()
    all_groups: tuple[tuple[str, ...], ...] = ()
    near: tuple[NearClause, ...] = ()
    exclude: tuple[str, ...] = ()
    # Terms that count only in items in some languages: (term, its language codes).
    term_languages: tuple[tuple[str, frozenset[str]], ...] = ()
    languages: frozenset[str] = frozenset()  # the rule counts only items in these; empty: in any
    # "ignore": an item that defines one of the rule's acronyms as something else
    # ("Oregon Institute of Technology (OIT)") does not count its mentions.
    acronyms_defined_otherwise: AcronymPolicy = "count"

    @property
    def terms(self) -> tuple[str, ...]:
        """Every distinct term the rule uses, exclusions included, in file order."""
        seen: dict[str, None] = {}
        for term in self.any_terms:
            seen[term] = None
        for group in self.all_groups:
            seen.update(dict.fromkeys(group))
        for clause in self.near:
            seen.update(dict.fromkeys(clause.terms))
            seen.update(dict.fromkeys(clause.with_terms))
        seen.update(dict.fromkeys(self.exclude))
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules an instance watches for, in load order; ids are unique."""

    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        first: dict[str, Rule] = {}
        problems = []
        for rule in self.rules:
            if rule.id in first:
                problems.append(
                    f"{rule.source_file}: rule {rule.id!r}: key 'id': duplicate rule id"
                    f" (first defined in {first[rule.id].source_file})"
                )
            else:
                first[rule.id] = rule
        if problems:
            raise RuleError(problems)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __getitem__(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
