"""The long-running service: periodic jobs on APScheduler 3, state in the database.

Jobs: the poll tick, the alert dispatch tick, one digest job per digest channel
(cron, in the route's time zone), retention, and with `web.public_url` the
WebSub subscriber (`monitor.websub`), whose hubs push to the dashboard's
callback; their deliveries go through the poller's pipeline at once. Dispatch
and digests keep their state in the outbox, like polling, so a restart loses
no alert.

APScheduler only says *when to look*; which feeds are due lives in the database,
so a restart or a second instance loses nothing. The tick is short and never
blocks: it starts a polling cycle if none is running and pets systemd's
watchdog only while cycles make progress, so a wedged daemon gets restarted
instead of silently doing nothing.

The tick alone would make a feed due at +20 s wait for the tick at +30 s. So
after every cycle the daemon asks the database when the next feed falls due
(`FeedStore.next_due`) and schedules a one-off wake-up for then: feeds are
polled when they fall due, and the tick is only the safety net (and the
watchdog's pulse). Likewise a poll that queued alerts wakes the dispatcher at
once instead of leaving them for its next tick.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import logs
from monitor.alerts.digest import DigestSchedule, catch_up, collect, schedules
from monitor.alerts.dispatcher import Dispatcher
from monitor.app import App, owner_id, prepare_database, retention_policy
from monitor.config import load_config
from monitor.errors import ConfigError, MonitorError
from monitor.feedlist import feed_headers, listed_feeds
from monitor.ingest import FeedError
from monitor.ingest.http import Fetcher
from monitor.notify import Notifier
from monitor.pipeline.articles import article_step_factory, policies_of
from monitor.pipeline.polling import CycleReport, Poller, PollHealth
from monitor.pipeline.workers import init_worker, make_pool
from monitor.secrets import SecretError
from monitor.store.articles import ArticleRetries
from monitor.store.checkpoints import Checkpointer
from monitor.store.feeds import FeedStore
from monitor.store.websub import SubscriptionStore
from monitor.web.dashboard import create_app
from monitor.web.health import TickProbe
from monitor.web.server import bind, serve, url_of
from monitor.web.websub import PushHooks
from monitor.websub.subscriber import Subscriber

log = logs.get("daemon")

#: Cycles start at most this often: a feed due but not claimable (a clock skew,
#: a lease the query did not foresee) must not make the daemon spin.
MIN_CYCLE_GAP_S = 1.0
WAKE_JOB = "poll-wake"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What a config builds and a reload replaces."""

    app: App
    poller: Poller
    fetcher: Fetcher
    cpu: Executor
    dispatcher: Dispatcher
    digests: list[DigestSchedule]
    subscriber: Subscriber | None = None  # WebSub, with web.public_url
    checkpointer: Checkpointer | None = None  # SQLite only

    async def close(self, *, wait: bool = True) -> None:
        """Close connections and stop the workers (`wait`: let running parses finish)."""
        if self.subscriber is not None:
            await self.subscriber.close()
        await self.fetcher.aclose()
        await self.dispatcher.aclose()
        self.cpu.shutdown(wait=wait, cancel_futures=not wait)
        if self.checkpointer is not None:
            self.checkpointer.stop()


async def build(
    app: App, owner: str, db: Executor, *, on_alerts: Callable[[], None] | None = None,
    health: PollHealth | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Runtime:
    """`on_alerts`: called when a poll has queued alerts (the daemon wakes its dispatcher);
    `health`: where polls record whether they got anywhere (the daemon's, across reloads);
    `clock`: the time the dispatcher claims by (default: now)."""
    settings = app.config.settings
    credentials = feed_headers(app.config)  # first: a missing secret must not leave workers behind
    routes = settings.routes
    workers = settings.schedule.parse_workers
    workers = os.cpu_count() or 1 if workers is None else workers
    if workers == 0:
        init_worker(app.config.rule_paths, routes)  # parse in this process, on a thread
        cpu: Executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")
    else:
        cpu = make_pool(app.config.rule_paths, workers, routes)
    fetcher = Fetcher(settings.fetch)
    subscriber = None
    if settings.web.public_url and settings.web.enabled:
        subscriber = Subscriber(SubscriptionStore(app.engine), fetcher, db, public_url=settings.web.public_url,
                                lease_s=settings.web.websub_lease_s, owner=owner)
    # Per origin, per_host fetches run and as many wait to take over their connections.
    pipeline = app.pipeline()
    store = pipeline.store
    assert store is not None
    poller = Poller(
        feeds=FeedStore(app.engine), pipeline=pipeline, fetcher=fetcher, cpu=cpu, db=db,
        settings=settings.schedule, owner=owner, capacity=settings.fetch.concurrency * 2,
        per_origin=settings.fetch.per_host_concurrency * 2, on_alerts=on_alerts, health=health,
        credentials=credentials, on_hub=subscriber.discovered if subscriber is not None else None,
        articles=article_step_factory(
            fetcher=fetcher, cpu=cpu, settings=settings.articles, unseen=store.unseen,
            retries=ArticleRetries(app.engine), policies=policies_of(listed_feeds(app.config)),
        ),
    )
    return Runtime(app, poller, fetcher, cpu, app.dispatcher(owner, db, clock), schedules(routes), subscriber,
                   Checkpointer.for_engine(app.engine))


class Daemon:
    def __init__(self, config_path: Path | None, app: App, clock: Callable[[], datetime] | None = None) -> None:
        """`clock`: the time digests are collected and alerts claimed by (default:
        now); tests pass one to run the digest jobs across months in seconds."""
        self.config_path = config_path
        self.clock = clock or _utc_now
        self.owner = owner_id()
        self.notifier = Notifier()
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        self.app = app
        self.runtime: Runtime | None = None
        self.stop = asyncio.Event()
        self.reload_requested = False
        self.cycle: asyncio.Task[CycleReport] | None = None
        self.dispatching: asyncio.Task[None] | None = None
        self.dispatch_again = False  # alerts were queued while a pass was running
        self.scheduler: AsyncIOScheduler | None = None
        self.last_cycle: CycleReport | None = None
        self.last_tick = time.monotonic()
        self.poll_health = PollHealth(app.config.settings.schedule.max_failing_s)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        revision = await loop.run_in_executor(self.db, prepare_database, self.app)
        self.runtime = await build(self.app, self.owner, self.db, on_alerts=self.wake_dispatcher,
                                   health=self.poll_health, clock=self.clock)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)

        schedule = self.app.config.settings.schedule
        scheduler = AsyncIOScheduler(timezone=UTC, event_loop=loop)
        now = self.clock()
        scheduler.add_job(self.tick, "interval", seconds=schedule.tick_s, id="tick", coalesce=True,
                          max_instances=1, next_run_time=now)
        scheduler.add_job(self.retention, "interval", hours=24, id="retention", coalesce=True,
                          max_instances=1, next_run_time=now + timedelta(minutes=1))
        scheduler.add_job(self.dispatch, "interval", seconds=self.app.config.settings.alerts.dispatch_tick_s,
                          id="dispatch", coalesce=True, max_instances=1, next_run_time=now)
        scheduler.add_job(self.websub, "interval", seconds=schedule.tick_s, id="websub", coalesce=True,
                          max_instances=1, next_run_time=now)
        self.scheduler = scheduler
        await self._start_alerts(self.runtime)
        scheduler.start()
        log.info("started", owner=self.owner, database=self.app.database_label, revision=revision,
                 tick_s=schedule.tick_s, watchdog_s=self.notifier.watchdog_s)
        web = self._start_web()
        self.notifier.ready(f"running; database at revision {revision}")

        await self.stop.wait()

        self.notifier.stopping()
        scheduler.shutdown(wait=False)
        await self._shutdown()
        if web is not None:
            await asyncio.gather(web, return_exceptions=True)
        log.info("stopped", owner=self.owner)
        return 0

    def _request_stop(self, sig: signal.Signals) -> None:
        log.info("stop_requested", signal=sig.name)
        self.stop.set()

    def _request_reload(self) -> None:
        log.info("reload_requested", signal="SIGHUP")
        self.reload_requested = True
        asyncio.get_running_loop().create_task(self.tick())

    async def tick(self) -> None:
        self.last_tick = time.monotonic()
        if self.reload_requested:
            self.reload_requested = False
            await self.reload()
        if self.stop.is_set() or self.runtime is None:
            return
        self._start_cycle()
        if self._healthy():
            self.notifier.watchdog()
        self.notifier.status(self._status())

    async def wake(self) -> None:
        """The one-off job at the time the next feed falls due (see `_schedule_wake`)."""
        self._start_cycle()

    def _start_cycle(self) -> None:
        """Start a polling cycle unless one is running (it will schedule the next wake-up)."""
        if self.stop.is_set() or self.runtime is None:
            return
        if self.cycle is None or self.cycle.done():
            self.cycle = asyncio.create_task(self._cycle(self.runtime.poller))
            self.cycle.add_done_callback(self._finish_cycle)

    async def _cycle(self, poller: Poller) -> CycleReport:
        """One cycle, then a wake-up for when the next feed falls due, so it is polled
        then rather than at the next tick. Cycles start at least MIN_CYCLE_GAP_S apart."""
        started = datetime.now(UTC)
        report = await poller.run_cycle(self.stop)
        await self._schedule_wake(not_before=started + timedelta(seconds=MIN_CYCLE_GAP_S))
        return report

    async def _schedule_wake(self, *, not_before: datetime) -> None:
        if self.stop.is_set() or self.runtime is None or self.scheduler is None:
            return
        feeds = self.runtime.poller.feeds  # after a reload, the new configuration's database
        try:
            due = await asyncio.get_running_loop().run_in_executor(self.db, feeds.next_due)
        except Exception as exc:  # the tick still polls; say why wake-ups stopped
            log.warning("next_due_failed", error=f"{type(exc).__name__}: {exc}", fallback="tick")
            return
        if due is None:
            return  # no enabled feed: the tick notices new ones after a reload
        due -= self.runtime.poller.clock_offset  # the database's time, on our clock
        # misfire_grace_time=None: a wake-up delayed by a busy loop still runs.
        self.scheduler.add_job(self.wake, "date", run_date=max(due, not_before), id=WAKE_JOB,
                               replace_existing=True, misfire_grace_time=None)

    def _finish_cycle(self, task: asyncio.Task[CycleReport]) -> None:
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            log.error("cycle_crashed", error=f"{type(exc).__name__}: {exc}")
            return
        report = task.result()
        self.last_cycle = report
        if report.polls:
            log.info("cycle", feeds=len(report.polls), new_items=report.new_items,
                     errors=report.count("error"), not_modified=report.count("not-modified"),
                     seconds=round(report.seconds, 2))

    def _healthy(self) -> bool:
        """Polls must not all be failing for long (`PollHealth`), and a running cycle must
        show progress within twice the fetch deadline."""
        if not self.poll_health.ok():
            return False
        if self.cycle is None or self.cycle.done() or self.runtime is None:
            return True
        limit = 2 * self.app.config.settings.fetch.deadline_s + 30
        return time.monotonic() - self.runtime.poller.last_progress < limit

    def _status(self) -> str:
        running = "polling" if self.cycle and not self.cycle.done() else "idle"
        if self.last_cycle is None:
            return f"{running}; no cycle finished yet"
        c = self.last_cycle
        return (f"{running}; last cycle: {len(c.polls)} feeds, {c.new_items} new items, "
                f"{c.count('error')} errors")

    async def reload(self) -> None:
        """Re-read config and rules; on any error keep running on the old ones."""
        app: App | None = None
        try:
            app = App(load_config(self.config_path))
            await asyncio.get_running_loop().run_in_executor(self.db, prepare_database, app)
        except MonitorError as exc:
            log.error("reload_failed", error=str(exc), keeping="previous configuration")
            return
        except Exception as exc:  # a bad database.url, an unreachable database: the old one still works
            log.error("reload_failed", error=f"{type(exc).__name__}: {exc}", keeping="previous configuration")
            if app is not None and "engine" in app.__dict__:
                app.engine.dispose()
            return
        old, running, dispatching = self.runtime, self.cycle, self.dispatching
        self.app = app
        try:
            # the next cycle uses it
            self.runtime = await build(app, self.owner, self.db, on_alerts=self.wake_dispatcher,
                                       health=self.poll_health, clock=self.clock)
        except ConfigError as exc:
            self.app = old.app if old is not None else self.app
            log.error("reload_failed", error=str(exc), keeping="previous configuration")
            return
        self.poll_health.max_failing_s = app.config.settings.schedule.max_failing_s
        await self._start_alerts(self.runtime)
        if old is not None:
            asyncio.get_running_loop().create_task(self._retire(old, running, dispatching))
        log.info("reloaded", rules=",".join(app.ruleset.ids))

    async def _retire(
        self, old: Runtime, running: asyncio.Task[CycleReport] | None, dispatching: asyncio.Task[object] | None
    ) -> None:
        """Close the previous runtime once the cycle and dispatch pass using it have finished."""
        for task in (running, dispatching):
            if task is not None and not task.done():
                await asyncio.gather(task, return_exceptions=True)
        await old.close(wait=False)

    def _start_web(self) -> asyncio.Task[None] | None:
        """The dashboard, served from this event loop until `stop`; with `web.public_url`,
        the WebSub callback too (a change of either needs a restart)."""
        settings = self.app.config.settings
        if not settings.web.enabled:
            if settings.web.public_url:
                log.warning("websub_off", reason="web.enabled is false: hubs could not reach the callback")
            return None
        probe = TickProbe(lambda: self.last_tick, max_tick_age_s=3 * settings.schedule.tick_s + 30)
        hooks = None
        if settings.web.public_url:
            hooks = PushHooks(self.receive_push, lease_s=settings.web.websub_lease_s,
                              max_body_bytes=settings.fetch.max_body_bytes)
        try:
            sock = bind(settings.web)
            app = create_app(self.app.read_engine, settings.web, health=probe, polling=self.poll_health,
                             websub=hooks, rules=lambda: self.app.ruleset)
        except (OSError, SecretError) as exc:
            raise ConfigError(f"{self.app.config.path}: key 'web': {exc}") from exc
        log.info("web_listening", url=url_of(sock))
        return asyncio.create_task(serve(app, settings.web, self.stop, sock=sock))

    # WebSub ----------------------------------------------------------------------

    async def websub(self) -> None:
        """The subscriber's tick: ask hubs for due subscriptions and renewals, in a task
        of its own (`Subscriber.close` waits for it)."""
        if self.runtime is not None and self.runtime.subscriber is not None and not self.stop.is_set():
            self.runtime.subscriber.kick()

    async def receive_push(self, feed_url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """A signed WebSub delivery: through the pipeline now, as a poll would; new items."""
        if self.runtime is None:
            raise RuntimeError("not running")
        try:
            return await self.runtime.poller.ingest_pushed(feed_url, body, headers)
        except FeedError as exc:  # delivering it again would not help
            log.warning("push_unreadable", feed=feed_url, error=str(exc))
            return 0

    # alerts --------------------------------------------------------------------

    async def _start_alerts(self, runtime: Runtime) -> None:
        """Channels re-enabled by a changed config, missed digests sent, digest jobs
        (re)scheduled: at start and after every reload."""
        await runtime.dispatcher.sync_channels()
        loop = asyncio.get_running_loop()
        for schedule in runtime.digests:
            await loop.run_in_executor(self.db, catch_up, runtime.dispatcher.outbox, schedule, self.clock())
        if self.scheduler is None:
            return
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        for schedule in runtime.digests:
            self.scheduler.add_job(
                self.digest, schedule.trigger(), args=[schedule.channel], id=f"digest:{schedule.channel}",
                coalesce=True, max_instances=1, misfire_grace_time=3600, replace_existing=True,
            )
            log.info("digest_scheduled", channel=schedule.channel, cron=schedule.crontab,
                     timezone=schedule.timezone, next=schedule.next_after(self.clock()).isoformat())

    async def dispatch(self) -> None:
        """The dispatch tick: one pass over due alerts (never two at once).

        The pass runs in a task of its own, shielded: the scheduler cancels its
        jobs on shutdown, and a delivery that went out must still be recorded
        (else it is sent again after the restart). `_shutdown` waits for it.
        """
        task = self._start_dispatch()
        if task is not None:
            await asyncio.shield(task)  # errors are logged inside: the next tick tries again

    def wake_dispatcher(self) -> None:
        """A poll has queued alerts: deliver them now rather than at the next dispatch tick."""
        self._start_dispatch()

    def _start_dispatch(self) -> asyncio.Task[None] | None:
        """Start a dispatch pass; if one is running, have it make one more pass after it
        (it may already have looked for due alerts before these were queued)."""
        if self.stop.is_set() or self.runtime is None:
            return None
        if self.dispatching is not None and not self.dispatching.done():
            self.dispatch_again = True
            return self.dispatching
        self.dispatch_again = False
        self.dispatching = asyncio.create_task(self._dispatch_passes())
        return self.dispatching

    async def _dispatch_passes(self) -> None:
        """Passes until none was asked for meanwhile, each with the current dispatcher."""
        while self.runtime is not None:
            try:
                await self.runtime.dispatcher.run(self.stop)
            except Exception as exc:  # the next tick tries again; the outbox lost nothing
                log.error("dispatch_crashed", error=f"{type(exc).__name__}: {exc}")
                return
            if not self.dispatch_again or self.stop.is_set():
                return
            self.dispatch_again = False

    async def digest(self, channel: str) -> None:
        """A digest's cron time: collect, then dispatch at once rather than at the next tick."""
        if self.runtime is None:
            return
        outbox = self.runtime.dispatcher.outbox
        loop = asyncio.get_running_loop()
        digest_id = await loop.run_in_executor(self.db, collect, outbox, channel, self.clock())
        if digest_id is not None:
            self.wake_dispatcher()

    async def retention(self) -> None:
        """Each batch is one short transaction run on the database thread by itself,
        so poll commits queued meanwhile go in between (monitor.store.retention)."""
        from monitor.store.retention import Retention, RetentionReport

        loop = asyncio.get_running_loop()
        policy = retention_policy(self.app, datetime.now(UTC))
        report = RetentionReport()
        started = time.perf_counter()
        steps = Retention(self.app.engine).steps(policy, report)
        with suppress(StopIteration):
            step = next(steps)
            while not self.stop.is_set():
                step = steps.send(await loop.run_in_executor(self.db, step))
        log.info("retention", pruned_texts=report.texts, deleted_hits=report.hits, deleted_prints=report.prints,
                 deleted_attempts=report.attempts, transactions=report.transactions,
                 longest_ms=round(report.longest_s * 1000), seconds=round(time.perf_counter() - started, 1))

    async def _shutdown(self) -> None:
        if self.cycle is not None and not self.cycle.done():
            await asyncio.gather(self.cycle, return_exceptions=True)  # drains within the grace period
        if self.dispatching is not None and not self.dispatching.done():
            await asyncio.gather(self.dispatching, return_exceptions=True)  # bounded by channel timeouts
        if self.runtime is not None:
            released = await asyncio.get_running_loop().run_in_executor(
                self.db, self.runtime.poller.feeds.release, self.owner
            )
            await self.runtime.dispatcher.release()
            await self.runtime.close(wait=False)
            log.info("leases_released", count=released)
        self.db.shutdown(wait=True)
