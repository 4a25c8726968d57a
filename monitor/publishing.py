"""When a source publishes, by hour of the week (UTC), learned from what it
publishes: pure values, no I/O. Economy mode polls at the latency target in a
source's active hours and less often in hours where it has never published."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOURS = 7 * 24
MIN_OBSERVATIONS = 20  # fewer publications than this: no pattern is trusted yet
PLAUSIBLE_PAST = timedelta(days=2)  # an entry dated further back is a backfill, not a publication time
PLAUSIBLE_FUTURE = timedelta(hours=1)  # a date further ahead is wrong: the arrival time is used
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_of_week(at: datetime) -> int:
    return at.weekday() * 24 + at.hour


def publication_time(published: datetime | None, seen_at: datetime, *, live: bool = True) -> datetime | None:
    """When an item was published, as far as we can tell. Seen by a live poll: its
    own date when plausible, else when we first saw it. Seen in a source's backlog
    (its first poll): its own date however old, and None without one, since the
    arrival time then says nothing."""
    if published is not None and published > seen_at + PLAUSIBLE_FUTURE:
        published = None  # a wrong clock
    if not live:
        return published
    if published is None or published < seen_at - PLAUSIBLE_PAST:
        return seen_at
    return published


def seen_delay(published: datetime | None, seen_at: datetime) -> float | None:
    """Seconds from an item's publication to its first sight; None when its date
    cannot be trusted for that (missing, in the future, or a backfill)."""
    if published is None or not seen_at - PLAUSIBLE_PAST <= published <= seen_at:
        return None
    return (seen_at - published).total_seconds()


@dataclass(frozen=True, slots=True)
class PublishingHours:
    """Publications seen in each of the 168 hours of the week (Monday 00h UTC first)."""

    counts: tuple[int, ...] = (0,) * HOURS

    @classmethod
    def of(cls, stored: Sequence[int] | None) -> PublishingHours:
        if not stored or len(stored) != HOURS:
            return cls()
        return cls(tuple(int(n) for n in stored))

    def add(self, times: Iterable[datetime]) -> PublishingHours:
        counts = list(self.counts)
        for at in times:
            counts[hour_of_week(at)] += 1
        return PublishingHours(tuple(counts))

    @property
    def known(self) -> bool:
        return sum(self.counts) >= MIN_OBSERVATIONS

    def active(self, hour: int) -> bool:
        """Published in this hour or next to it (a release at 08:59 or 09:01 is the same habit)."""
        return any(self.counts[(hour + d) % HOURS] for d in (-1, 0, 1))

    def until_active(self, now: datetime) -> timedelta:
        """Time from `now` to the start of the next active hour (zero inside one)."""
        start = hour_of_week(now)
        if self.active(start):
            return timedelta(0)
        into_hour = timedelta(minutes=now.minute, seconds=now.second, microseconds=now.microsecond)
        for ahead in range(1, HOURS + 1):
            if self.active((start + ahead) % HOURS):
                return timedelta(hours=ahead) - into_hour
        return timedelta(days=7)

    def busiest(self, n: int = 3) -> list[str]:
        """The `n` hours with most publications, as people say them: "Tue 09h"."""
        ranked = sorted((h for h in range(HOURS) if self.counts[h]), key=lambda h: (-self.counts[h], h))
        return [f"{DAYS[h // 24]} {h % 24:02d}h" for h in ranked[:n]]
