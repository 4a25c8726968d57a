"""When to poll a source next: pure decisions, no I/O.

The interval is a latency target, not a guess at the publishing rate: every
source is polled every `latency_target_s` (five minutes by default), however
rarely it publishes, so a new item waits at most that long. It is polled less
often only when its server asks (Cache-Control, Expires, RSS `<ttl>`,
Retry-After), when the operator set a slower interval for it, when a WebSub hub
pushes its updates, or, with `economy`, in hours of the week in which it has
never published; `Plan.slower_because` says which. Failures back off
exponentially but never give up: a source that is down for a week is retried
every day and comes back by itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import ScheduleSettings
from monitor.publishing import PublishingHours

JITTER = 0.1  # up to 10 % early, so sources added together drift apart; never late


@dataclass(frozen=True, slots=True)
class Plan:
    next_poll_at: datetime
    interval_s: int  # the regular polling interval after this poll
    publish_gap_s: float | None  # the source's typical time between entries
    slower_because: str | None = None  # why the next poll is later than the latency target


@dataclass(frozen=True, slots=True)
class Asked:
    """How long the server asked us to wait, and how it said so."""

    seconds: float
    how: str  # "Cache-Control/Expires", "RSS ttl"


def publish_gap(published: Sequence[datetime]) -> float | None:
    """Mean gap between the source's entries, from their own dates (None if < 2)."""
    dates = sorted({d for d in published if d is not None})
    if len(dates) < 2:
        return None
    return max((dates[-1] - dates[0]).total_seconds() / (len(dates) - 1), 1.0)


def after_success(
    settings: ScheduleSettings,
    now: datetime,
    *,
    previous_gap_s: float | None,
    published: Sequence[datetime],
    asked: Sequence[Asked] = (),
    configured_interval_s: int | None = None,
    hours: PublishingHours | None = None,
    pushed: bool = False,
    rng: random.Random = random._inst,  # type: ignore[attr-defined]
) -> Plan:
    """The next poll after a good one (see the module docstring for the rule)."""
    gap = publish_gap(published) or previous_gap_s
    interval, why = float(max(settings.latency_target_s, settings.min_interval_s)), None
    if configured_interval_s is not None and configured_interval_s > interval:
        interval, why = configured_interval_s, f"operator's interval ({configured_interval_s} s)"
    if pushed and settings.websub_fallback_s > interval:
        interval, why = settings.websub_fallback_s, "WebSub hub pushes its updates"
    delay = interval * (1 - rng.uniform(0, JITTER))
    if settings.economy and hours is not None and hours.known and why is None:
        quiet = hours.until_active(now).total_seconds()
        if quiet > delay:
            delay = min(quiet, settings.economy_ceiling_s)
            why = "economy: no publication seen at this hour"
    for request in sorted(asked, key=lambda a: -a.seconds)[:1]:
        wanted = min(request.seconds, settings.max_interval_s)
        if wanted > delay:
            delay, why = wanted, f"server asked ({request.how}: {int(request.seconds)} s)"
    return Plan(now + timedelta(seconds=delay), int(interval), gap, why)


def after_failure(
    settings: ScheduleSettings,
    now: datetime,
    *,
    interval_s: int | None,
    consecutive_errors: int,
    retry_after_s: float | None,
    rng: random.Random = random._inst,  # type: ignore[attr-defined]
) -> Plan:
    """Exponential backoff from the source's own interval, capped, with jitter;
    a server's Retry-After is a floor, not a suggestion."""
    base = interval_s or settings.latency_target_s
    exponent = min(max(consecutive_errors - 1, 0), 30)
    delay = min(base * 2**exponent, settings.max_backoff_s)
    delay *= 1 + rng.uniform(-JITTER, JITTER)
    delay = min(delay, settings.max_backoff_s)
    why = None
    if retry_after_s is not None and retry_after_s > delay:
        delay = min(retry_after_s, settings.max_backoff_s)
        why = f"server asked (Retry-After: {int(retry_after_s)} s)"
    return Plan(now + timedelta(seconds=delay), base, None, why)


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
    return silence > settings.stale_after_intervals * max(publish_gap_s, settings.latency_target_s)
