"""When a feed is polled next: adaptive intervals, cache headers, backoff, staleness."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor import schedule
from monitor.config import ScheduleSettings
from monitor.publishing import PublishingHours, publication_time

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
S = ScheduleSettings()


def hourly(n: int) -> list[datetime]:
    return [NOW - timedelta(hours=i) for i in range(n)]


@pytest.mark.parametrize("per_day", [24, 8, 3, 1, 1 / 7])
def test_every_publishing_rate_is_polled_within_the_latency_target(per_day: float) -> None:
    published = [NOW - timedelta(days=i / per_day) for i in range(10)]
    for seed in range(20):
        plan = schedule.after_success(S, NOW, previous_gap_s=None, published=published, rng=random.Random(seed))
        assert timedelta(seconds=S.latency_target_s * 0.9) <= plan.next_poll_at - NOW
        assert plan.next_poll_at - NOW <= timedelta(seconds=S.latency_target_s)
        assert plan.slower_because is None
    assert plan.publish_gap_s == pytest.approx(86_400 / per_day)


def test_caching_headers_and_ttl_delay_the_next_poll_and_say_so_up_to_the_ceiling() -> None:
    plan = schedule.after_success(S, NOW, previous_gap_s=None, published=hourly(10),
                                  asked=[schedule.Asked(3600, "RSS ttl"), schedule.Asked(1200, "Cache-Control/Expires")])
    assert plan.next_poll_at - NOW == timedelta(hours=1)
    assert plan.slower_because == "server asked (RSS ttl: 3600 s)"
    capped = schedule.after_success(S, NOW, previous_gap_s=None, published=[],
                                    asked=[schedule.Asked(30 * 86_400, "Cache-Control/Expires")])
    assert capped.next_poll_at - NOW == timedelta(seconds=S.max_interval_s)


def test_the_operators_slower_interval_wins_a_faster_one_does_not() -> None:
    slow = schedule.after_success(S, NOW, previous_gap_s=None, published=[], configured_interval_s=3600)
    fast = schedule.after_success(S, NOW, previous_gap_s=None, published=[], configured_interval_s=10)
    assert timedelta(minutes=54) <= slow.next_poll_at - NOW <= timedelta(hours=1)
    assert slow.slower_because == "operator's interval (3600 s)"
    assert fast.next_poll_at - NOW <= timedelta(seconds=S.latency_target_s) and fast.slower_because is None


def test_a_pushed_source_is_polled_at_the_fallback_rate() -> None:
    plan = schedule.after_success(S, NOW, previous_gap_s=None, published=[], pushed=True)
    assert timedelta(seconds=S.websub_fallback_s * 0.9) <= plan.next_poll_at - NOW
    assert plan.slower_because == "WebSub hub pushes its updates"


def weekday_office() -> PublishingHours:
    """Releases on weekdays between 08:00 and 17:59 UTC, four weeks of them."""
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    return PublishingHours().add(
        monday + timedelta(days=week * 7 + day, hours=hour, minutes=17)
        for week in range(4) for day in range(5) for hour in range(8, 18)
    )


def test_economy_polls_at_the_target_in_office_hours_and_up_to_the_ceiling_at_night() -> None:
    economy = S.model_copy(update={"economy": True})
    hours = weekday_office()
    tuesday_10 = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    busy = schedule.after_success(economy, tuesday_10, previous_gap_s=None, published=[], hours=hours)
    assert busy.next_poll_at - tuesday_10 <= timedelta(seconds=S.latency_target_s) and busy.slower_because is None

    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    quiet = schedule.after_success(economy, saturday, previous_gap_s=None, published=[], hours=hours)
    assert quiet.next_poll_at - saturday == timedelta(seconds=S.economy_ceiling_s)
    assert quiet.slower_because == "economy: no publication seen at this hour"

    monday_0620 = datetime(2026, 11, 30, 6, 20, tzinfo=UTC)  # 07h counts as next to 08h: active at 07:00
    dawn = schedule.after_success(economy, monday_0620, previous_gap_s=None, published=[], hours=hours)
    assert dawn.next_poll_at == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)

    off = schedule.after_success(S, saturday, previous_gap_s=None, published=[], hours=hours)
    assert off.next_poll_at - saturday <= timedelta(seconds=S.latency_target_s)  # economy is off by default


def test_economy_trusts_no_pattern_before_enough_publications() -> None:
    economy = S.model_copy(update={"economy": True})
    few = PublishingHours().add([datetime(2026, 11, 24, 10, tzinfo=UTC)] * 5)
    saturday = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    plan = schedule.after_success(economy, saturday, previous_gap_s=None, published=[], hours=few)
    assert plan.next_poll_at - saturday <= timedelta(seconds=S.latency_target_s)


def test_publishing_hours_name_the_busiest_hours_and_read_implausible_dates_as_arrival() -> None:
    assert weekday_office().busiest(2) == ["Mon 08h", "Mon 09h"]
    seen = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert publication_time(datetime(2020, 1, 1, tzinfo=UTC), seen) == seen
    assert publication_time(seen + timedelta(days=3), seen) == seen
    assert publication_time(seen - timedelta(hours=2), seen) == seen - timedelta(hours=2)
    old = datetime(2026, 10, 6, 9, 30, tzinfo=UTC)  # a source's first poll: its backlog's own dates count
    assert publication_time(old, seen, live=False) == old
    assert publication_time(None, seen, live=False) is None


def test_failures_back_off_exponentially_up_to_a_day_and_never_stop() -> None:
    delays = [
        schedule.after_failure(S, NOW, interval_s=600, consecutive_errors=n, retry_after_s=None,
                               rng=random.Random(n)).next_poll_at - NOW
        for n in range(1, 30)
    ]
    assert timedelta(minutes=9) <= delays[0] <= timedelta(minutes=11)
    assert timedelta(minutes=18) <= delays[1] <= timedelta(minutes=22)
    assert all(d <= timedelta(hours=24) for d in delays)
    assert delays[-1] >= timedelta(hours=21)


def test_retry_after_is_honoured_and_named() -> None:
    plan = schedule.after_failure(S, NOW, interval_s=300, consecutive_errors=1, retry_after_s=7200)
    assert plan.next_poll_at - NOW >= timedelta(hours=2)
    assert plan.slower_because == "server asked (Retry-After: 7200 s)"


def test_a_daily_feed_silent_for_a_week_is_stale_a_weekly_one_is_not() -> None:
    assert schedule.is_stale(S, NOW, publish_gap_s=86_400 / 4, last_new_item_at=NOW - timedelta(days=7))
    assert not schedule.is_stale(S, NOW, publish_gap_s=86_400 / 4, last_new_item_at=NOW - timedelta(hours=12))
    assert not schedule.is_stale(S, NOW, publish_gap_s=7 * 86_400, last_new_item_at=NOW - timedelta(days=20))
