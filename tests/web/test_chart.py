"""The server-drawn chart: round axes, one line per rule, every day present."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from monitor.store.queries import RuleDays
from monitor.web.chart import build, nice_ceiling


@pytest.mark.parametrize(
    ("peak", "expected"),
    [(0, (1, 1)), (1, (1, 1)), (3, (3, 1)), (7, (8, 2)), (10, (10, 5)), (37, (40, 10)), (180, (200, 50))],
)
def test_the_axis_top_is_round_and_above_the_peak(peak: int, expected: tuple[int, int]) -> None:
    top, step = nice_ceiling(peak)
    assert (top, step) == expected
    assert top >= peak and top % step == 0 and top // step <= 5


def test_one_series_per_rule_one_point_per_day_highest_count_at_the_top() -> None:
    days = tuple(date(2026, 11, 1) + timedelta(days=i) for i in range(30))
    data = RuleDays(days, {"upr": (0,) * 29 + (2,), "ohchr": (4,) + (0,) * 29})
    chart = build(data, width=600, height=200)
    assert [s.rule for s in chart.series] == ["ohchr", "upr"]
    ohchr, upr = chart.series
    assert len(ohchr.points) == 30 and ohchr.total == 4 and upr.total == 2
    assert ohchr.points[0].y == pytest.approx(chart.top)  # 4 is the axis top
    assert upr.points[-1].y == pytest.approx((chart.top + chart.bottom) / 2)
    assert ohchr.points[0].x == chart.left and ohchr.points[-1].x == pytest.approx(chart.right)
    assert ohchr.color != upr.color
    assert [t.label for t in chart.y_ticks] == ["0", "1", "2", "3", "4"]
    assert chart.x_ticks[0].label == "30 Nov"  # weekly ticks counted back from today
    assert not chart.empty


def test_no_matches_is_an_empty_chart() -> None:
    days = tuple(date(2026, 11, 1) + timedelta(days=i) for i in range(30))
    assert build(RuleDays(days, {})).empty
