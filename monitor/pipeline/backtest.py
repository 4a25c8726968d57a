"""`monitor rules test`: what candidate rules would match among the stored items,
against what is stored (the hits the rules in force made, each item with its
rules version). Pure: it tallies classified batches (`monitor.pipeline.stored`)
and decides nothing else; nothing is written and no alert is made.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from monitor.items import Hit
from monitor.store.stored import StoredEntry

EXAMPLES = 10  # gained and lost items shown per rule unless all are asked for


@dataclass(frozen=True, slots=True)
class Difference:
    """An item a rule gains or loses, with that rule's hits (candidate's or stored)."""

    entry: StoredEntry
    hits: tuple[Hit, ...]


@dataclass(slots=True)
class RuleDiff:
    rule: str
    current: int = 0  # items the stored hits say the rule matches
    candidate: int = 0  # items the candidate rule matches
    gained_count: int = 0
    lost_count: int = 0
    gained: list[Difference] = field(default_factory=list)  # the first `limit`
    lost: list[Difference] = field(default_factory=list)


@dataclass(slots=True)
class Backtest:
    """The tally, per candidate rule (`rules`: the ids compared, in file order)."""

    rules: Sequence[str]
    limit: int | None = EXAMPLES  # None: keep every gained and lost item
    scanned: int = 0
    diffs: dict[str, RuleDiff] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.diffs = {rule: RuleDiff(rule) for rule in self.rules}

    def add(self, batch: Sequence[StoredEntry], new_hits: Sequence[Sequence[Hit]]) -> None:
        for entry, hits in zip(batch, new_hits, strict=True):
            self.scanned += 1
            old = _by_rule(entry.hits, self.diffs)
            new = _by_rule(hits, self.diffs)
            for rule in old.keys() | new.keys():
                diff = self.diffs[rule]
                diff.current += rule in old
                diff.candidate += rule in new
                if rule in new and rule not in old:
                    diff.gained_count += 1
                    self._keep(diff.gained, Difference(entry, new[rule]))
                elif rule in old and rule not in new:
                    diff.lost_count += 1
                    self._keep(diff.lost, Difference(entry, old[rule]))

    def _keep(self, examples: list[Difference], difference: Difference) -> None:
        if self.limit is None or len(examples) < self.limit:
            examples.append(difference)

    @property
    def lost(self) -> int:
        return sum(d.lost_count for d in self.diffs.values())


def _by_rule(hits: Iterable[Hit], rules: Collection[str]) -> dict[str, tuple[Hit, ...]]:
    found: dict[str, list[Hit]] = {}
    for hit in hits:
        if hit.rule in rules:
            found.setdefault(hit.rule, []).append(hit)
    return {rule: tuple(h) for rule, h in found.items()}
