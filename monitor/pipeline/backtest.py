"""`monitor rules test`: what candidate rules would match among the stored items,
against what is stored (the hits the rules in force made, each item with its
rules version). Pure: it tallies classified batches (`monitor.pipeline.stored`)
and decides nothing else; nothing is written and no alert is made.

A tally is made per range of items, in the worker that read them, keeping the
first `limit` items per rule by id; the ranges' tallies, merged in id order, are
the tally of all of them, and only the items it shows are then read whole
(`describe`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from monitor.items import Hit
from monitor.store.stored import StoredEntry, StoredText

EXAMPLES = 10  # gained and lost items shown per rule unless all are asked for


@dataclass(frozen=True, slots=True)
class Difference:
    """An item a rule gains or loses, with that rule's hits (candidate's or stored);
    `entry`, the whole item, once `Backtest.describe` has it."""

    item_id: int
    hits: tuple[Hit, ...]
    entry: StoredEntry | None = None


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

    def add(self, batch: Sequence[StoredText], new_hits: Sequence[Sequence[Hit]]) -> None:
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
                    self._keep(diff.gained, Difference(entry.id, new[rule]))
                elif rule in old and rule not in new:
                    diff.lost_count += 1
                    self._keep(diff.lost, Difference(entry.id, old[rule]))

    def shown(self) -> set[int]:
        """The ids of the items kept to be shown."""
        return {d.item_id for diff in self.diffs.values() for d in (*diff.gained, *diff.lost)}

    def describe(self, entries: Mapping[int, StoredEntry]) -> None:
        """Give each item kept to be shown its whole stored entry (read by id; one
        deleted since, by retention, is no longer shown)."""
        for diff in self.diffs.values():
            diff.gained = [replace(d, entry=entries[d.item_id]) for d in diff.gained if d.item_id in entries]
            diff.lost = [replace(d, entry=entries[d.item_id]) for d in diff.lost if d.item_id in entries]

    def merge(self, later: Backtest) -> None:
        """Add the tally of the items after these (the next range)."""
        self.scanned += later.scanned
        for rule, diff in self.diffs.items():
            other = later.diffs[rule]
            diff.current += other.current
            diff.candidate += other.candidate
            diff.gained_count += other.gained_count
            diff.lost_count += other.lost_count
            for difference in other.gained:
                self._keep(diff.gained, difference)
            for difference in other.lost:
                self._keep(diff.lost, difference)

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
