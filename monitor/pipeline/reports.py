"""What a polling cycle reports: per feed, and for the cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class PollReport:
    feed_id: int
    url: str
    result: Literal["new", "not-modified", "unchanged", "error"]
    items: int = 0
    new: int = 0
    matched: int = 0
    error: str | None = None


@dataclass
class CycleReport:
    polls: list[PollReport] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, result: str) -> int:
        return sum(1 for p in self.polls if p.result == result)

    @property
    def new_items(self) -> int:
        return sum(p.new for p in self.polls)
