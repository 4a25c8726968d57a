"""Quiet hours: an immediate alert that falls in a route's quiet period waits
until the period ends, in the route's own time zone (daylight saving included).

The wait is written into the outbox row (`next_attempt_at`), not held in
memory, so a restart during the night loses nothing and sends nothing early.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse(spec: str) -> tuple[time, time]:
    """'22:00-07:00' -> (22:00, 07:00); validated by the config model already."""
    start, end = spec.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def quiet_until(now: datetime, spec: str, tz: ZoneInfo) -> datetime | None:
    """When the quiet period containing `now` ends (UTC), or None if `now` is not quiet.

    A period whose end is earlier than its start wraps midnight ('22:00-07:00').
    """
    start, end = parse(spec)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
        end_day = local.date()
    else:
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return _local(end_day, end, tz).astimezone(UTC)


def _local(day: object, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time on a day; a time skipped by a DST change becomes the
    first real instant after the gap (zoneinfo's fold=0 reading, normalised)."""
    naive = datetime.combine(day, at)  # type: ignore[arg-type]
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz)
