"""One polling cycle: claim due feeds, fetch, parse, run the pipeline, record.

Fetching is async I/O; parsing and classifying run in worker processes;
database writes run on one dedicated thread. A failure of one feed is recorded
on that feed and never touches the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from monitor import logs, metrics, schedule
from monitor.config import ScheduleSettings
from monitor.ingest import FeedError
from monitor.ingest.http import Conditional, Fetcher, FetchError
from monitor.pipeline import Pipeline
from monitor.store.feeds import FeedState, FeedStore
from monitor.workers import PreparedFeed, prepare_feed

T = TypeVar("T")
log = logs.get("poller")


@dataclass(frozen=True, slots=True)
class PollReport:
    feed_id: int
    url: str
    result: Literal["new", "not-modified", "unchanged", "error"]
    items: int = 0
    new: int = 0
    matched: int = 0
    error: str | None = None


@dataclass
class CycleReport:
    polls: list[PollReport] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, result: str) -> int:
        return sum(1 for p in self.polls if p.result == result)

    @property
    def new_items(self) -> int:
        return sum(p.new for p in self.polls)


class Poller:
    def __init__(
        self,
        *,
        feeds: FeedStore,
        pipeline: Pipeline,
        fetcher: Fetcher,
        cpu: Executor,
        db: Executor,
        settings: ScheduleSettings,
        owner: str,
        capacity: int,
    ) -> None:
        self.feeds = feeds
        self.pipeline = pipeline
        self.fetcher = fetcher
        self.cpu = cpu
        self.db = db
        self.settings = settings
        self.owner = owner
        self.capacity = max(capacity, 1)
        self.last_progress = time.monotonic()  # the watchdog checks this moves

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db, lambda: fn(*args, **kwargs))

    async def run_cycle(self, stop: asyncio.Event | None = None) -> CycleReport:
        """Poll every feed that is due, claiming more as slots free up, until none
        is due. On `stop`, claim nothing more and let in-flight polls finish
        within the grace period; the rest are cancelled and their leases released."""
        stop = stop or asyncio.Event()
        due_by = datetime.now(UTC)  # feeds falling due during the cycle wait for the next one
        report = CycleReport()
        started = time.monotonic()
        lease = timedelta(seconds=self.settings.lease_s)
        inflight: set[asyncio.Task[PollReport]] = set()
        exhausted = False
        while True:
            free = self.capacity - len(inflight)
            if not stop.is_set() and not exhausted and (free >= self.capacity // 2 or not inflight):
                claimed = await self._db(self.feeds.claim_due, self.owner, lease, free, due_by=due_by)
                exhausted = len(claimed) < free
                inflight.update(asyncio.create_task(self.poll(f)) for f in claimed)
            if not inflight:
                break
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({*inflight, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in done - {waiter}:
                inflight.discard(task)  # type: ignore[arg-type]
                report.polls.append(task.result())  # type: ignore[arg-type]
                self.last_progress = time.monotonic()
            if exhausted and len(done - {waiter}) and not stop.is_set():
                exhausted = False  # something finished: newly due feeds may be waiting
            if stop.is_set() and inflight:
                await self._drain(inflight, report)
                break
        report.seconds = time.monotonic() - started
        return report

    async def _drain(self, inflight: set[asyncio.Task[PollReport]], report: CycleReport) -> None:
        done, pending = await asyncio.wait(inflight, timeout=self.settings.shutdown_grace_s)
        report.polls.extend(t.result() for t in done)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        released = await self._db(self.feeds.release, self.owner)
        log.info("shutdown_drain", finished=len(done), cancelled=len(pending), leases_released=released)

    async def poll(self, feed: FeedState) -> PollReport:
        try:
            report = await self._poll(feed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must cost one feed one poll, not the daemon
            log.exception("poll_crashed", feed=feed.url)
            report = await self._failed(feed, f"internal error: {type(exc).__name__}: {exc}", None)
        metrics.record_poll(report.result)
        return report

    async def _poll(self, feed: FeedState) -> PollReport:
        started = time.monotonic()
        try:
            with metrics.FETCH_SECONDS.time():
                fetched = await self.fetcher.fetch(feed.url, Conditional(feed.etag, feed.last_modified))
        except FetchError as exc:
            return await self._failed(feed, str(exc), exc.retry_after_s, gone=exc.gone, kind=exc.kind)

        now = datetime.now(UTC)
        if fetched.status == 304 or fetched.body is None:
            plan = schedule.after_success(
                self.settings, now, previous_interval_s=feed.interval_s, previous_gap_s=feed.publish_gap_s,
                published=[], new_items=0, cache_s=fetched.max_age_s,
            )
            await self._db(
                self.feeds.record_success, feed.id, self.owner, now=now, next_poll_at=plan.next_poll_at,
                interval_s=plan.interval_s, etag=fetched.etag or feed.etag,
                last_modified=fetched.last_modified or feed.last_modified,
                stale=schedule.is_stale(self.settings, now, publish_gap_s=feed.publish_gap_s,
                                        last_new_item_at=feed.newest_entry_at),
            )
            log.info("poll", feed=feed.url, result="not-modified", next_poll_at=plan.next_poll_at.isoformat(),
                     ms=round((time.monotonic() - started) * 1000))
            return PollReport(feed.id, feed.url, "not-modified")

        loop = asyncio.get_running_loop()
        try:
            prepared: PreparedFeed = await loop.run_in_executor(
                self.cpu, prepare_feed, fetched.body, dict(fetched.headers), feed.url
            )
        except FeedError as exc:
            return await self._failed(feed, str(exc), None, kind="parse")

        results = await self._db(self.pipeline.commit, feed.url, prepared.entries)
        new = [r for r in results if r.outcome.item_id is not None]
        matched = sum(1 for r in new if r.hits)
        metrics.record_ingested(len(new), [r.rules for r in new if r.hits and r.outcome.story_id is None])
        newest = max(prepared.published, default=None)
        cache_s = max(filter(None, (fetched.max_age_s, prepared.ttl_s)), default=None)
        plan = schedule.after_success(
            self.settings, now, previous_interval_s=feed.interval_s, previous_gap_s=feed.publish_gap_s,
            published=prepared.published, new_items=len(new), cache_s=cache_s,
        )
        await self._db(
            self.feeds.record_success, feed.id, self.owner, now=now, next_poll_at=plan.next_poll_at,
            interval_s=plan.interval_s, etag=fetched.etag, last_modified=fetched.last_modified,
            title=prepared.title, publish_gap_s=plan.publish_gap_s, newest_entry_at=newest,
            stale=schedule.is_stale(self.settings, now, publish_gap_s=plan.publish_gap_s,
                                    last_new_item_at=newest or feed.newest_entry_at),
            problem=f"malformed feed: {prepared.problem}" if prepared.problem else None,
        )
        log.info(
            "poll", feed=feed.url, result="fetched", items=len(results), new=len(new), matched=matched,
            malformed=prepared.problem is not None, next_poll_at=plan.next_poll_at.isoformat(),
            ms=round((time.monotonic() - started) * 1000),
        )
        for r in new:
            if r.hits and r.outcome.story_id is None:
                log.info("match", feed=feed.url, item_id=r.outcome.item_id, rules=",".join(r.rules),
                         title=r.item.title[:200])
        return PollReport(feed.id, feed.url, "new" if new else "unchanged", len(results), len(new), matched)

    async def _failed(
        self, feed: FeedState, error: str, retry_after_s: float | None, *, gone: bool = False, kind: str = "error"
    ) -> PollReport:
        now = datetime.now(UTC)
        errors = feed.consecutive_errors + 1
        next_poll_at = schedule.after_failure(
            self.settings, now, interval_s=feed.interval_s, consecutive_errors=errors, retry_after_s=retry_after_s
        )
        await self._db(
            self.feeds.record_failure, feed.id, self.owner, now=now, error=error, next_poll_at=next_poll_at, gone=gone
        )
        if gone:
            log.warning("feed_disabled", feed=feed.url, reason=error)
        else:
            log.warning("poll_failed", feed=feed.url, kind=kind, error=error, consecutive_errors=errors,
                        next_poll_at=next_poll_at.isoformat())
        return PollReport(feed.id, feed.url, "error", error=error)
