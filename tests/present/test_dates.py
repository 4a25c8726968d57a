"""One set of time formats for every output, always UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.present.dates import ago, duration, iso, when

NOON = datetime(2026, 11, 4, 12, 0, 5, 520000, tzinfo=UTC)
GENEVA = timezone(timedelta(hours=1))


def test_iso_is_utc_with_a_z_and_full_precision_for_json() -> None:
    assert iso(NOON) == "2026-11-04T12:00:05.520000Z"
    assert iso(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)) == "2026-11-23T08:00:00Z"
    assert iso(NOON.astimezone(GENEVA)) == iso(NOON)
    assert iso(None) is None


def test_iso_to_the_second_for_html_time_elements() -> None:
    assert iso(NOON, whole_seconds=True) == "2026-11-04T12:00:05Z"


def test_a_naive_time_is_read_as_utc_not_local_time() -> None:
    assert iso(NOON.replace(tzinfo=None)) == iso(NOON)
    assert when(NOON.replace(tzinfo=None)) == when(NOON)


def test_people_read_utc_to_the_minute() -> None:
    assert when(NOON.astimezone(GENEVA)) == "2026-11-04 12:00 UTC"
    assert when(None) == "—" and when(None, "never") == "never"


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "?"), (0, "0 s"), (45.4, "45 s"), (60, "1 min"), (90, "1.5 min"), (1800, "30 min"),
    (5400, "1.5 h"), (86400, "24 h"), (2 * 86400, "2 d"), (3.5 * 86400, "3.5 d"),
])
def test_durations_in_the_largest_fitting_unit(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_ago_says_how_far_from_now_either_way() -> None:
    assert ago(NOON - timedelta(minutes=5), now=NOON) == "5 min ago"
    assert ago(NOON + timedelta(hours=3), now=NOON) == "in 3 h"
    assert ago(None) == "never"
