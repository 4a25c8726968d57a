"""When to poll a feed next: pure decisions, no I/O.

A feed that publishes hourly is polled about every half hour, one that publishes
weekly every few hours, always within [min_interval, max_interval] and never
sooner than the server's own caching headers allow. Failures back off
exponentially but never give up: a feed that is down for a week is retried
every day and comes back by itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import ScheduleSettings

JITTER = 0.1  # ±10 %, so feeds added together drift apart instead of polling in bursts


@dataclass(frozen=True, slots=True)
class Plan:
    next_poll_at: datetime
    interval_s: int  # the regular polling interval after this poll
    publish_gap_s: float | None  # the feed's typical time between entries


def publish_gap(published: Sequence[datetime]) -> float | None:
    """Mean gap between the feed's entries, from their own dates (None if < 2)."""
    dates = sorted({d for d in published if d is not None})
    if len(dates) < 2:
        return None
    return max((dates[-1] - dates[0]).total_seconds() / (len(dates) - 1), 1.0)


def after_success(
    settings: ScheduleSettings,
    now: datetime,
    *,
    previous_interval_s: int | None,
    previous_gap_s: float | None,
    published: Sequence[datetime],
    new_items: int,
    cache_s: float | None,
    rng: random.Random = random._inst,  # type: ignore[attr-defined]
) -> Plan:
    """Adapt the interval to how often the feed publishes.

    With dated entries, poll at half the typical gap (so a new item waits on
    average a quarter gap). Without dates, nudge: faster when something new
    arrived, slower when nothing did.
    """
    gap = publish_gap(published) or previous_gap_s
    if gap is not None:
        interval = gap / 2
    else:
        current = previous_interval_s or settings.min_interval_s
        interval = current * (0.75 if new_items else 1.25)
    interval = min(max(interval, settings.min_interval_s), settings.max_interval_s)
    delay = interval * (1 + rng.uniform(-JITTER, JITTER))
    if cache_s is not None:
        delay = max(delay, cache_s)  # the server asked us not to come back sooner
    return Plan(now + timedelta(seconds=delay), int(interval), gap)


def after_failure(
    settings: ScheduleSettings,
    now: datetime,
    *,
    interval_s: int | None,
    consecutive_errors: int,
    retry_after_s: float | None,
    rng: random.Random = random._inst,  # type: ignore[attr-defined]
) -> datetime:
    """Exponential backoff from the feed's own interval, capped, with jitter;
    a server's Retry-After is a floor, not a suggestion."""
    base = interval_s or settings.min_interval_s
    exponent = min(max(consecutive_errors - 1, 0), 30)
    delay = min(base * 2**exponent, settings.max_backoff_s)
    delay *= 1 + rng.uniform(-JITTER, JITTER)
    delay = min(delay, settings.max_backoff_s)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, settings.max_backoff_s))
    return now + timedelta(seconds=delay)


def is_stale(
    settings: ScheduleSettings,
    now: datetime,
    *,
    publish_gap_s: float | None,
    last_new_item_at: datetime | None,
) -> bool:
    """A feed that used to publish at least daily and has been silent for
    several of its own gaps has probably broken (moved URL, empty template)."""
    if publish_gap_s is None or last_new_item_at is None or publish_gap_s > 86_400:
        return False
    silence = (now - last_new_item_at).total_seconds()
    return silence > settings.stale_after_intervals * max(publish_gap_s, settings.min_interval_s)
