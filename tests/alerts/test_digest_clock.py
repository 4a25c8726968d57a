"""Digests at their cron times, end to end, across both daylight-saving changes.

The real daemon (`monitor.daemon.Daemon`) runs its real APScheduler jobs, with
their real triggers, on its event loop; only the clock is the test's. Time
cannot be made to pass for real across a DST change, so a virtual clock is
given to the daemon (digests collected and alerts claimed by it) and to
APScheduler (the `datetime` its scheduler, executor and triggers ask for
"now"). The test steps that clock to each time the scheduler says a digest
job is next due, stores a match halfway before it, and reads what aiosmtpd
received: exactly one message per channel and period, carrying exactly the
matches of that period, at the local times a person expects, in
Europe/Zurich: 02:30 nightly (a time skipped on the spring night and repeated
on the autumn night) and 07:00 on weekdays. The autumn run restarts the
daemon right after the repeated hour, as an upgrade that night would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apscheduler.executors.base
import apscheduler.schedulers.base
import apscheduler.triggers.date
import apscheduler.triggers.interval
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from sqlalchemy import update

from monitor.alerts.routing import Router
from monitor.app import App
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.items import Item
from monitor.pipeline import Pipeline
from monitor.store.models import Alert
from monitor.store.repository import Store
from tests.alerts.conftest import SmtpServer, email_channel, write_config

ZONE = "Europe/Zurich"
NIGHT = "30 2 * * *"  # 02:30: skipped on 29 March 2026, there twice on 25 October 2026
MORNING = "0 7 * * mon-fri"
Messages = dict[str, list[tuple[str, list[str]]]]  # per channel: (first line, item titles) of each digest


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# The digest times a person in Zurich expects, in UTC (CET = UTC+1, CEST = UTC+2).
SPRING = {  # clocks go from 02:00 CET to 03:00 CEST on Sunday 29 March
    "night": [utc(3, 27, 1, 30), utc(3, 28, 1, 30),
              utc(3, 29, 1, 30),  # 02:30 does not exist: sent at 03:30 CEST, once
              utc(3, 30, 0, 30), utc(3, 31, 0, 30)],
    "morning": [utc(3, 27, 6), utc(3, 30, 5), utc(3, 31, 5)],  # Friday, then Monday in summer time
}
AUTUMN = {  # clocks go from 03:00 CEST back to 02:00 CET on Sunday 25 October
    "night": [utc(10, 23, 0, 30), utc(10, 24, 0, 30),
              utc(10, 25, 0, 30),  # the first 02:30; the second one (01:30 UTC) is no new digest time
              utc(10, 26, 1, 30), utc(10, 27, 1, 30)],
    "morning": [utc(10, 23, 5), utc(10, 26, 6), utc(10, 27, 6)],
}


class VirtualClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """The clock of the daemon and of APScheduler's modules (they call datetime.now)."""
    virtual = VirtualClock(utc(1, 1, 0))

    class ClockedDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return virtual.now.astimezone(tz) if tz is not None else virtual.now.replace(tzinfo=None)

    for module in (apscheduler.schedulers.base, apscheduler.executors.base, apscheduler.triggers.interval,
                   apscheduler.triggers.date):
        monkeypatch.setattr(module, "datetime", ClockedDatetime)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)  # not the systemd of whoever runs the tests
    return virtual


def digest_config(tmp_path: Path, db_url: str, port: int) -> Path:
    config = write_config(
        tmp_path, db_url,
        channels={"night": email_channel(port, to=["night@example.org"]),
                  "morning": email_channel(port, to=["morning@example.org"])},
        routes=[{"rules": ["ohchr"], "channel": "night", "mode": "digest", "digest": NIGHT, "timezone": ZONE},
                {"rules": ["ohchr"], "channel": "morning", "mode": "digest", "digest": MORNING, "timezone": ZONE}],
        alerts={"dispatch_tick_s": 3600},  # digests go out because the digest job wakes the dispatcher
    )
    config.write_text(config.read_text().replace("[web]\nport = 0", "[web]\nenabled = false"))
    return config


class Harness:
    """A daemon on the virtual clock; matches stored "at" virtual times."""

    def __init__(self, config: Path, clock: VirtualClock) -> None:
        self.config = config
        self.clock = clock
        self.app = App(load_config(config))
        self.pipeline = Pipeline(self.app.matcher, Store(self.app.engine), Router(self.app.config.settings.routes))
        self.matches: list[tuple[datetime, str]] = []  # (when, title)
        self.daemon: Daemon | None = None
        self.running: asyncio.Task[int] | None = None
        self.finished: list[str] = []  # digest job ids, as APScheduler reports them run

    def store_match(self) -> None:
        title = f"Note {len(self.matches)} on the OHCHR"
        item = Item(source="replay:dst", guid=f"dst-{len(self.matches)}", title=title,
                    text=f"{title}: the Office of the High Commissioner (OHCHR) commented.")
        (results,) = self.pipeline.commit([("replay:dst", self.pipeline.prepare([item]))])
        ids = [a for r in results for a in r.outcome.alert_ids]
        assert len(ids) == 2  # one per channel
        with self.app.engine.begin() as conn:  # matched now, on the virtual clock
            conn.execute(update(Alert).where(Alert.id.in_(ids)).values(created_at=self.clock.now))
        self.matches.append((self.clock.now, title))

    async def start(self) -> None:
        self.daemon = Daemon(self.config, App(load_config(self.config)), clock=self.clock)
        self.running = asyncio.create_task(self.daemon.run())
        await until(lambda: self.daemon is not None and self.daemon.scheduler is not None
                    and self.daemon.scheduler.running, self.running)
        self.daemon.scheduler.add_listener(self._job_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        await self.idle()

    def _job_done(self, event: JobExecutionEvent) -> None:
        if event.job_id.startswith("digest:"):
            assert event.code == EVENT_JOB_EXECUTED, f"{event.job_id}: {event.exception or 'missed'}"
            self.finished.append(event.job_id)

    async def stop(self) -> None:
        assert self.daemon is not None and self.running is not None
        self.daemon.stop.set()
        assert await self.running == 0
        self.daemon = self.running = None

    def next_digest_time(self) -> datetime:
        assert self.daemon is not None and self.daemon.scheduler is not None
        return min(job.next_run_time for job in self.daemon.scheduler.get_jobs()
                   if job.id.startswith("digest:")).astimezone(UTC)  # (the trigger's zone: no wall-clock sums)

    async def step_to(self, when: datetime) -> None:
        """Move the clock to `when` and let the scheduler run what is due, to the end."""
        assert self.daemon is not None and self.daemon.scheduler is not None
        due = [j.id for j in self.daemon.scheduler.get_jobs() if j.id.startswith("digest:") and j.next_run_time <= when]
        before = len(self.finished)
        self.clock.now = when
        self.daemon.scheduler.wakeup()
        await until(lambda: len(self.finished) - before == len(due), self.running)
        await self.idle()

    async def idle(self) -> None:
        """Until no dispatch pass runs (one may have been woken by a digest job)."""
        assert self.daemon is not None
        await asyncio.sleep(0)
        while self.daemon.dispatching is not None and not self.daemon.dispatching.done():
            await asyncio.wait({self.daemon.dispatching})
            await asyncio.sleep(0)


async def until(condition: Callable[[], bool], running: asyncio.Task[Any] | None, timeout: float = 60) -> None:
    """Yield to the daemon until `condition` holds (the timeout only stops a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if running is not None and running.done():
            running.result()  # the daemon stopped: show why
            raise AssertionError("the daemon stopped")
        assert loop.time() < deadline, "the daemon did not get there"
        await asyncio.sleep(0.005)


def run_season(harness: Harness, start: datetime, end: datetime, restart_at: datetime | None = None) -> None:
    async def scenario() -> None:
        harness.clock.now = start
        await harness.start()
        restarted = restart_at is None
        while (fire := harness.next_digest_time()) < end:
            if not restarted and fire > restart_at:  # type: ignore[operator]
                harness.clock.now = restart_at  # type: ignore[assignment]
                await harness.stop()
                await harness.start()  # catches up what it must, and schedules anew
                restarted = True
                continue
            harness.clock.now += (fire - harness.clock.now) / 2
            harness.store_match()  # halfway to the next digest time
            await harness.step_to(fire)
        await harness.stop()

    asyncio.run(scenario())


def digests_received(smtp: SmtpServer) -> Messages:
    """Per channel: (first line, item titles) of each digest message, in arrival order."""
    found: Messages = {"night": [], "morning": []}
    for envelope, message in smtp.sink.messages:
        (to,) = envelope.rcpt_tos
        text = message.get_body(("plain",)).get_content()
        titles = [line[2:] for line in text.splitlines() if line.startswith("* ")]
        found[to.split("@")[0]].append((text.splitlines()[0], titles))
    return found


def expected(harness: Harness, times: dict[str, list[datetime]], start: datetime) -> Messages:
    """Per channel, one message per digest time with the matches since the previous one."""
    result: Messages = {}
    for channel, fires in times.items():
        messages = []
        for previous, fire in zip([start, *fires], fires, strict=False):
            period = [(at, title) for at, title in harness.matches if previous < at <= fire]
            n = len(period)
            head = (f"press-monitor digest: {n} match{'es' if n != 1 else ''} from "
                    f"{period[0][0]:%Y-%m-%d %H:%M} UTC to {fire:%Y-%m-%d %H:%M} UTC")
            messages.append((head, [title for _, title in period]))
        result[channel] = messages
    return result


def assert_one_message_per_period(got: Messages, want: Messages) -> None:
    for channel, messages in want.items():
        assert [head for head, _ in got[channel]] == [head for head, _ in messages], channel  # the periods
        assert got[channel] == messages, channel  # and what each carried


def test_spring_forward_a_digest_time_in_the_skipped_hour_is_sent_once(
    tmp_path: Path, db_url: str, smtp: SmtpServer, clock: VirtualClock
) -> None:
    harness = Harness(digest_config(tmp_path, db_url, smtp.port), clock)
    start, end = utc(3, 26, 12), utc(3, 31, 12)
    try:
        run_season(harness, start, end)
    finally:
        harness.app.engine.dispose()
    assert_one_message_per_period(digests_received(smtp), expected(harness, SPRING, start))


def test_fall_back_a_digest_time_in_the_repeated_hour_is_sent_once_even_across_a_restart(
    tmp_path: Path, db_url: str, smtp: SmtpServer, clock: VirtualClock
) -> None:
    harness = Harness(digest_config(tmp_path, db_url, smtp.port), clock)
    start, end = utc(10, 22, 12), utc(10, 27, 12)
    try:
        run_season(harness, start, end, restart_at=utc(10, 25, 3))  # after both 02:30s
    finally:
        harness.app.engine.dispose()
    assert_one_message_per_period(digests_received(smtp), expected(harness, AUTUMN, start))
