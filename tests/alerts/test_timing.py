"""Quiet hours, retry delays and digest times: the clock arithmetic, with
time zones and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from monitor.alerts.backoff import next_delay
from monitor.alerts.digest import DigestSchedule
from monitor.alerts.quiet import quiet_until
from monitor.alerts.settings import Route

ZURICH = ZoneInfo("Europe/Zurich")
SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZURICH)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (local(2026, 3, 10, 23, 30), local(2026, 3, 11, 7, 0)),  # before midnight
        (local(2026, 3, 11, 3, 0), local(2026, 3, 11, 7, 0)),  # after midnight
        (local(2026, 3, 11, 7, 0), None),  # the end is not quiet
        (local(2026, 3, 11, 21, 59), None),
        (local(2026, 3, 11, 22, 0), local(2026, 3, 12, 7, 0)),
    ],
)
def test_quiet_hours_across_midnight(now: datetime, until: datetime | None) -> None:
    got = quiet_until(now.astimezone(UTC), "22:00-07:00", ZURICH)
    assert got == (until.astimezone(UTC) if until else None)
    assert got is None or got.tzinfo is UTC


def test_quiet_hours_within_a_day_and_across_a_dst_change() -> None:
    assert quiet_until(local(2026, 6, 1, 12, 30).astimezone(UTC), "12:00-14:00", ZURICH) == local(
        2026, 6, 1, 14, 0).astimezone(UTC)
    # 29 March 2026: Swiss clocks jump 02:00 -> 03:00; the night is one hour shorter.
    until = quiet_until(local(2026, 3, 28, 23, 0).astimezone(UTC), "22:00-07:00", ZURICH)
    assert until == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


def test_retry_delays_follow_the_schedule_with_bounded_jitter_then_give_up() -> None:
    for attempts, base in enumerate(SCHEDULE, start=1):
        assert next_delay(attempts, SCHEDULE, rand=lambda: 0.5) == base
        assert next_delay(attempts, SCHEDULE, rand=lambda: 0.0) == pytest.approx(base * 0.8)
        assert next_delay(attempts, SCHEDULE, rand=lambda: 1.0) == pytest.approx(base * 1.2)
    assert next_delay(len(SCHEDULE) + 1, SCHEDULE) is None


def test_retry_after_wins_when_longer_and_is_capped() -> None:
    assert next_delay(1, SCHEDULE, jitter=0, retry_after_s=120) == 120
    assert next_delay(3, SCHEDULE, jitter=0, retry_after_s=120) == 1800
    assert next_delay(1, SCHEDULE, jitter=0, retry_after_s=10**9, max_retry_after_s=86400) == 86400


def test_weekday_digest_at_seven_in_zurich() -> None:
    schedule = DigestSchedule("desk", "0 7 * * mon-fri", "Europe/Zurich")
    friday_evening = local(2026, 3, 27, 18, 0)
    assert schedule.next_after(friday_evening) == local(2026, 3, 30, 7, 0)  # Monday, after the DST change
    assert schedule.next_after(friday_evening).utcoffset() == timedelta(hours=2)
    assert schedule.next_after(local(2026, 3, 25, 6, 59)) == local(2026, 3, 25, 7, 0)
    assert schedule.next_after(local(2026, 3, 25, 7, 0)) == local(2026, 3, 26, 7, 0)
    assert schedule.last_before(local(2026, 3, 30, 6, 0)) == local(2026, 3, 27, 7, 0)
    assert schedule.last_before(local(2026, 3, 30, 7, 0)) == local(2026, 3, 30, 7, 0)


@pytest.mark.timeout(10)  # the walk in last_before once never ended inside the repeated hour
def test_a_nightly_digest_across_both_dst_changes_in_zurich() -> None:
    nightly = DigestSchedule("desk", "30 2 * * *", "Europe/Zurich")

    def next_after(when: datetime) -> datetime:
        return nightly.next_after(when).astimezone(UTC)  # instants: local times in a gap or fold never compare equal

    def last_before(when: datetime) -> datetime | None:
        found = nightly.last_before(when)
        return found.astimezone(UTC) if found else None

    # 29 March 2026: 02:30 does not exist; the digest goes at 03:30 summer time, once.
    assert next_after(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert next_after(datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
    # 25 October 2026: 02:30 happens twice (00:30 and 01:30 UTC); it is a digest time once.
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_after(first - timedelta(minutes=1)) == first
    assert next_after(first) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)
    assert last_before(datetime(2026, 10, 25, 1, 45, tzinfo=UTC)) == first
    assert last_before(datetime(2026, 10, 25, 3, 0, tzinfo=UTC)) == first


def test_geneva_is_not_an_iana_zone_and_the_error_says_what_to_write() -> None:
    with pytest.raises(ValidationError, match="Europe/Zurich"):
        Route(rules=["ohchr"], channel="desk", mode="digest", digest="0 7 * * mon-fri", timezone="Europe/Geneva")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "digest", "digest": "0 7 * * 1-5"}, "weekdays as names"),
        ({"mode": "digest", "digest": "0 7 * *"}, "5 fields"),
        ({"mode": "digest", "digest": "0 25 * * *"}, "0 25"),
        ({"mode": "digest"}, "needs 'digest'"),
        ({"digest": "0 7 * * *"}, "only for mode"),
        ({"quiet_hours": "22-07"}, "HH:MM-HH:MM"),
        ({"mode": "digest", "digest": "0 7 * * *", "quiet_hours": "22:00-07:00"}, "quiet_hours are for immediate"),
    ],
)
def test_bad_routes_are_refused_on_load(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Route(rules=["ohchr"], channel="desk", **fields)
