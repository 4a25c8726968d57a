"""A figure: one measured value beside its floor and its target, printed as a
table row and as one JSON line `{"figure", "value", "unit", "floor", "ratio",
"target", "met"}`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Op = Literal["<=", ">="]


@dataclass(frozen=True, slots=True)
class Target:
    """`value op bound`, or `ratio op bound` when `of_floor` (ratio = value / floor)."""

    op: Op
    bound: float
    of_floor: bool = False
    text: str | None = None  # how to say it, when the bound is derived (e.g. "interval + 2 s")

    def describe(self, unit: str) -> str:
        if self.text:
            return self.text
        return f"{self.op} {self.bound:g}x floor" if self.of_floor else f"{self.op} {self.bound:g} {unit}"

    def holds(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound


@dataclass(frozen=True, slots=True)
class Figure:
    figure: str
    value: float | str  # a string says why there is no number ("pending: ...")
    unit: str
    target: Target
    floor: float | None = None

    @property
    def ratio(self) -> float | None:
        if isinstance(self.value, str) or not self.floor:
            return None
        return self.value / self.floor

    @property
    def met(self) -> bool | None:
        if isinstance(self.value, str):
            return None
        checked = self.ratio if self.target.of_floor else self.value
        return None if checked is None else self.target.holds(checked)

    def as_json(self) -> str:
        return json.dumps({
            "figure": self.figure,
            "value": self.value if isinstance(self.value, str) else round(self.value, 4),
            "unit": self.unit,
            "floor": None if self.floor is None else round(self.floor, 4),
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "target": self.target.describe(self.unit),
            "met": self.met,
        }, ensure_ascii=False)


def pending(figure: str, unit: str, target: Target, why: str) -> Figure:
    return Figure(figure, f"pending: {why}", unit, target)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(figures: Sequence[Figure]) -> str:
    header = ("figure", "value", "floor", "ratio", "target", "met")
    rows = [header]
    for f in figures:
        value = f.value if isinstance(f.value, str) else f"{_number(f.value)} {f.unit}"
        floor = "-" if f.floor is None else f"{_number(f.floor)} {f.unit}"
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append((f.figure, value, floor, ratio, f.target.describe(f.unit), met))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
