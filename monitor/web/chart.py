"""Matches per rule per day as an SVG line chart, drawn on the server.

No charting library and no JavaScript: the geometry is computed here and the
template `_chart.html` writes it out as inline SVG, so the chart needs no build
step, works with scripts disabled and under a strict Content-Security-Policy,
and every label (rule ids come from operator files) is escaped by Jinja2 like
any other text.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.store.queries import RuleDays

# Okabe-Ito: tells the lines apart for colour-blind readers too.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    day: str
    count: int


@dataclass(frozen=True, slots=True)
class Series:
    rule: str
    color: str
    points: tuple[Point, ...]
    total: int

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    first_day: str
    last_day: str

    @property
    def empty(self) -> bool:
        return not any(s.total for s in self.series)


def nice_ceiling(peak: int, ticks: int = 4) -> tuple[int, int]:
    """A round axis maximum at or above `peak`, and its step (1, 2, 5 × 10^k)."""
    if peak <= 0:
        return 1, 1
    raw = peak / ticks
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    for factor in (1, 2, 5, 10):
        step = max(factor * magnitude, 1)
        if step * ticks >= peak:
            return step * -(-peak // step), step
    return peak, max(peak // ticks, 1)  # not reached


def build(data: RuleDays, *, width: int = 760, height: int = 220) -> Chart:
    left, top, right, bottom = 40.0, 12.0, width - 24.0, height - 28.0  # room for the last date
    days = data.days
    top_value, step = nice_ceiling(data.peak)
    span_x = (right - left) / max(len(days) - 1, 1)

    def y_of(count: int) -> float:
        return bottom - (bottom - top) * count / top_value

    series = tuple(
        Series(
            rule=rule,
            color=PALETTE[i % len(PALETTE)],
            points=tuple(
                Point(left + j * span_x, y_of(n), days[j].isoformat(), n) for j, n in enumerate(counts)
            ),
            total=sum(counts),
        )
        for i, (rule, counts) in enumerate(sorted(data.counts.items()))
    )
    x_ticks = tuple(
        Tick(left + j * span_x, days[j].strftime("%d %b"))
        for j in range(len(days) - 1, -1, -7)  # every week, counted back from today
    )
    y_ticks = tuple(Tick(y_of(v), str(v)) for v in range(0, top_value + 1, step))
    return Chart(
        width, height, left, top, right, bottom, series, x_ticks, y_ticks,
        days[0].isoformat() if days else "", days[-1].isoformat() if days else "",
    )
