"""Digests: a channel's digest-mode matches, collected into one message at its
cron time, in its time zone.

APScheduler (CronTrigger) says when; the collection itself is one transaction
in the outbox (`Outbox.collect_digest`), which makes the digest an ordinary
outbox row with retries, dead-lettering and re-drive like any alert. Several
instances firing at once produce one digest: the rows they fold are taken
once, and the key is unique per channel and period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from monitor import logs
from monitor.alerts.settings import Route, zone
from monitor.store.alerts import Outbox, digest_key

log = logs.get("alerts")

_LOOKBACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=400))


class LocalTimeTrigger(CronTrigger):
    """A CronTrigger on which each local time is a digest time once.

    When clocks go back, an hour of local times happens twice; CronTrigger would
    fire a daily 02:30 digest at both, making a second digest that night with
    whatever matched in between. Here the second occurrence is skipped (as cron
    does for jobs at a fixed time) and its matches wait for the next digest.
    A time in the hour skipped in spring fires once, just after the jump, as
    CronTrigger does.
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire = super().get_next_fire_time(previous_fire_time, now)
        while fire is not None and _repeated(fire):
            fire = super().get_next_fire_time(fire, fire)
        return fire


def _repeated(when: datetime) -> bool:
    """The second occurrence of a local time that happens twice (fold=1 with an offset of its own)."""
    return when.fold == 1 and when.replace(fold=0).utcoffset() != when.utcoffset()


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    channel: str
    crontab: str
    timezone: str

    def trigger(self) -> CronTrigger:
        return LocalTimeTrigger.from_crontab(self.crontab, timezone=zone(self.timezone))

    def next_after(self, now: datetime) -> datetime:
        """The next digest time strictly after `now` (aware, in the schedule's zone)."""
        fire = self.trigger().get_next_fire_time(None, now.astimezone(UTC) + timedelta(microseconds=1))
        assert fire is not None, "a valid crontab always fires again"
        return fire

    def last_before(self, now: datetime) -> datetime | None:
        """The most recent digest time at or before `now`, if any within a year.

        Steps are taken in UTC: a second added to a local time in the repeated
        hour would land an hour earlier, and the walk would never end.
        """
        trigger = self.trigger()
        now = now.astimezone(UTC)
        for window in _LOOKBACK:
            fire = trigger.get_next_fire_time(None, now - window)
            if fire is None or fire > now:
                continue
            while True:
                following = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
                if following is None or following > now:
                    return fire
                fire = following
        return None


def schedules(routes: Sequence[Route]) -> list[DigestSchedule]:
    """One per channel with digest routes (the config check makes them agree)."""
    found: dict[str, DigestSchedule] = {}
    for route in routes:
        if route.mode == "digest" and route.digest and route.channel not in found:
            found[route.channel] = DigestSchedule(route.channel, route.digest, route.timezone)
    return list(found.values())


def collect(outbox: Outbox, channel: str, now: datetime | None = None) -> int | None:
    """The digest job: fold what the channel collected up to `now` (the cron
    time) into one digest, due at once. Returns the digest's alert id, None if
    there was nothing."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    digest_id = outbox.collect_digest(channel, digest_key(channel, now), now, now)
    if digest_id is not None:
        log.info("digest_collected", channel=channel, digest=digest_id)
    return digest_id


def catch_up(outbox: Outbox, schedule: DigestSchedule, now: datetime | None = None) -> int | None:
    """At start: a digest time that passed while the daemon was down is sent now,
    with what had been collected up to that time."""
    now = now or datetime.now(UTC)
    last = schedule.last_before(now)
    waiting = outbox.waiting_digest_since(schedule.channel)
    if last is None or waiting is None or waiting > last:
        return None
    log.info("digest_missed", channel=schedule.channel, due=last.isoformat())
    return outbox.collect_digest(schedule.channel, digest_key(schedule.channel, last), last, now)
