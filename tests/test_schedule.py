"""When a feed is polled next: adaptive intervals, cache headers, backoff, staleness."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor import schedule
from monitor.config import ScheduleSettings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
S = ScheduleSettings()


def hourly(n: int) -> list[datetime]:
    return [NOW - timedelta(hours=i) for i in range(n)]


def test_a_feed_publishing_hourly_is_polled_about_every_half_hour() -> None:
    plan = schedule.after_success(S, NOW, previous_interval_s=None, previous_gap_s=None,
                                  published=hourly(10), new_items=3, cache_s=None, rng=random.Random(1))
    assert plan.interval_s == 1800
    assert timedelta(minutes=27) <= plan.next_poll_at - NOW <= timedelta(minutes=33)
    assert plan.publish_gap_s == 3600


def test_interval_stays_within_the_configured_bounds() -> None:
    fast = schedule.after_success(S, NOW, previous_interval_s=None, previous_gap_s=None,
                                  published=[NOW - timedelta(seconds=i) for i in range(5)],
                                  new_items=1, cache_s=None)
    slow = schedule.after_success(S, NOW, previous_interval_s=None, previous_gap_s=None,
                                  published=[NOW - timedelta(days=30 * i) for i in range(5)],
                                  new_items=0, cache_s=None)
    assert fast.interval_s == S.min_interval_s
    assert slow.interval_s == S.max_interval_s


def test_cache_headers_are_a_floor() -> None:
    plan = schedule.after_success(S, NOW, previous_interval_s=None, previous_gap_s=None,
                                  published=hourly(10), new_items=0, cache_s=4 * 3600)
    assert plan.next_poll_at - NOW >= timedelta(hours=4)


def test_without_dates_the_interval_shrinks_on_news_and_grows_on_silence() -> None:
    quiet = schedule.after_success(S, NOW, previous_interval_s=3600, previous_gap_s=None,
                                   published=[], new_items=0, cache_s=None)
    busy = schedule.after_success(S, NOW, previous_interval_s=3600, previous_gap_s=None,
                                  published=[], new_items=2, cache_s=None)
    assert quiet.interval_s > 3600 > busy.interval_s


def test_failures_back_off_exponentially_up_to_a_day_and_never_stop() -> None:
    delays = [
        schedule.after_failure(S, NOW, interval_s=600, consecutive_errors=n, retry_after_s=None,
                               rng=random.Random(n)) - NOW
        for n in range(1, 30)
    ]
    assert timedelta(minutes=9) <= delays[0] <= timedelta(minutes=11)
    assert timedelta(minutes=18) <= delays[1] <= timedelta(minutes=22)
    assert all(d <= timedelta(hours=24) for d in delays)
    assert delays[-1] >= timedelta(hours=21)


def test_retry_after_is_honoured() -> None:
    at = schedule.after_failure(S, NOW, interval_s=300, consecutive_errors=1, retry_after_s=7200)
    assert at - NOW >= timedelta(hours=2)


def test_a_daily_feed_silent_for_a_week_is_stale_a_weekly_one_is_not() -> None:
    assert schedule.is_stale(S, NOW, publish_gap_s=86_400 / 4, last_new_item_at=NOW - timedelta(days=7))
    assert not schedule.is_stale(S, NOW, publish_gap_s=86_400 / 4, last_new_item_at=NOW - timedelta(hours=12))
    assert not schedule.is_stale(S, NOW, publish_gap_s=7 * 86_400, last_new_item_at=NOW - timedelta(days=20))
