"""The polling driver: claim due feeds, fetch, `prepare` in the workers,
`commit`, record. Fetching is async I/O; preparing runs in worker processes;
database writes run on one dedicated thread. A failure of one feed is recorded
on that feed and never touches the others.

Claims are grouped by origin (scheme, host and port), so an origin's feeds are
fetched back to back on the connections it already has. Good polls are
recorded in batches (`FLUSH_EVERY` feeds or `FLUSH_AFTER_S`), and the items of
feeds parsed while the database thread was busy are committed together
(`_Committer`, up to `COMMIT_GROUP` feeds): per-feed transactions cost most of
that thread's time (measurements: bench/README.md). A batched feed stays
leased until it is written, so a crash only means it is polled again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from monitor import logs, metrics, schedule
from monitor.config import ScheduleSettings
from monitor.errors import InputError
from monitor.ingest.http import Conditional, Fetched, Fetcher, FetchError
from monitor.items import Prepared, Result
from monitor.pipeline.articles import ArticleStep
from monitor.pipeline.reports import CycleReport, PollReport
from monitor.pipeline.steps import Pipeline
from monitor.pipeline.workers import PreparedFeed, WorkerDied, prepare_feed
from monitor.publishing import PublishingHours, publication_time, seen_delay
from monitor.store.feeds import FeedState, FeedStore, Success

T = TypeVar("T")
log = logs.get("poller")

FLUSH_EVERY = 100  # good polls per transaction, at most
FLUSH_AFTER_S = 0.2  # and none waits longer than this to be written
COMMIT_GROUP = 16  # feeds whose items are stored in one transaction, at most


class PollHealth:
    """Is polling getting anywhere? Polls failing with no success for longer than
    `max_failing_s` (a broken worker pool, a database refusing writes) is reported
    by `/healthz` and stops the systemd watchdog, so that systemd restarts us.
    Measured from the first failure after the last success: a quiet spell with
    nothing due is not a failure."""

    def __init__(self, max_failing_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failing_s = max_failing_s
        self.clock = clock
        self.failing_since: float | None = None

    def record(self, ok: bool) -> None:
        if ok:
            self.failing_since = None
        elif self.failing_since is None:
            self.failing_since = self.clock()

    def failing_s(self) -> float | None:
        """Seconds since polls started failing with none succeeding; None if the last one succeeded."""
        return None if self.failing_since is None else self.clock() - self.failing_since

    def ok(self) -> bool:
        failing = self.failing_s()
        return failing is None or failing <= self.max_failing_s


class _Successes:
    """Good polls not yet written: when the next batch is due, and taking it."""

    def __init__(self) -> None:
        self._pending: list[Success] = []
        self._since = 0.0

    def add(self, success: Success) -> None:
        if not self._pending:
            self._since = time.monotonic()
        self._pending.append(success)

    def due_in(self) -> float | None:
        """Seconds until the batch must be written (0: now), None if there is none."""
        if not self._pending:
            return None
        if len(self._pending) >= FLUSH_EVERY:
            return 0.0
        return max(0.0, self._since + FLUSH_AFTER_S - time.monotonic())

    def take(self) -> list[Success]:
        batch, self._pending = self._pending, []
        return batch


@dataclass(slots=True)
class _Waiting:
    """A poll's items, waiting for the database thread."""

    source: str
    entries: Sequence[Prepared]
    future: asyncio.Future[list[Result]]


class _Committer:
    """Commits the items of polls, several feeds per transaction: when the database
    thread takes up the job, everything waiting by then goes in one
    `Pipeline.commit` (feeds finish parsing faster than one-by-one storing keeps
    up with); a feed arriving while the thread is idle is stored at once, alone.
    A group that fails is retried feed by feed, so a bad feed fails only its own poll.
    """

    def __init__(self, pipeline: Pipeline, db: Executor, limit: int = COMMIT_GROUP) -> None:
        self.pipeline = pipeline
        self.db = db
        self.limit = limit
        self._waiting: deque[_Waiting] = deque()  # appended on the loop, taken on the db thread
        self._runner: asyncio.Task[None] | None = None

    async def commit(self, source: str, entries: Sequence[Prepared]) -> list[Result]:
        """Store one feed's items; its results, or the exception storing them raised."""
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(source, entries, future))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        """Hand the database thread one group after another while any is waiting."""
        loop = asyncio.get_running_loop()
        group: list[_Waiting] = []
        try:
            while self._waiting:
                group = []
                outcomes = await loop.run_in_executor(self.db, self._store_waiting, group)
                for waiting, outcome in zip(group, outcomes, strict=True):
                    _settle(waiting.future, outcome)
        except BaseException as exc:  # the executor is gone or we are cancelled: no poll may hang
            for waiting in [*group, *self._waiting]:
                _settle(waiting.future, exc)
            raise
        finally:
            self._runner = None

    def _store_waiting(self, group: list[_Waiting]) -> list[list[Result] | BaseException]:
        """On the database thread: take what is waiting now into `group`, and store it."""
        while self._waiting and len(group) < self.limit:
            waiting = self._waiting.popleft()
            if not waiting.future.cancelled():  # its poll was cancelled (a read, safe off the loop)
                group.append(waiting)
        if not group:
            return []
        try:
            return [*self.pipeline.commit([(w.source, w.entries) for w in group])]
        except Exception as exc:
            if len(group) == 1:
                return [exc]
            log.warning("commit_group_failed", feeds=len(group), error=f"{type(exc).__name__}: {exc}",
                        hint="storing each feed alone")
        return [self._store_alone(w) for w in group]  # one bad feed must not fail the others

    def _store_alone(self, waiting: _Waiting) -> list[Result] | BaseException:
        try:
            return self.pipeline.commit([(waiting.source, waiting.entries)])[0]
        except Exception as exc:
            return exc


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _settle(future: asyncio.Future[T], outcome: T | BaseException) -> None:
    """Resolve `future` unless its awaiting poll was cancelled meanwhile."""
    if future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class _DuePlan:
    """The due feeds of a cycle by origin, handed out so that each origin under way
    has `per_origin` feeds claimed and not finished, and no more origins are under
    way than that fills.

    Origins already under way are topped up first (their connections are open),
    then new ones start, in the order of their most overdue feed. Only when too
    few origins are left to fill a claim does each get more, evenly.
    """

    def __init__(self, per_origin: int) -> None:
        self.per_origin = max(per_origin, 1)
        self._queued: dict[str, deque[int]] = {}
        self._origin_of: dict[int, str] = {}
        self._under_way: Counter[str] = Counter()  # handed out and not finished, per origin

    def __bool__(self) -> bool:
        return bool(self._queued)

    def refill(self, due: Sequence[tuple[int, str]]) -> None:
        """`due`: (feed id, url), most overdue first (`FeedStore.due`)."""
        for feed_id, url in due:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}".lower()
            self._origin_of[feed_id] = origin
            self._queued.setdefault(origin, deque()).append(feed_id)

    def take(self, limit: int) -> list[int]:
        """Up to `limit` feed ids (see the class docstring)."""
        ids: list[int] = []
        cap = self.per_origin
        while len(ids) < limit and self._queued:
            ids += self._take(limit - len(ids), cap)
            cap += self.per_origin
        return ids

    def _take(self, limit: int, cap: int) -> list[int]:
        """Up to `limit` ids, topping origins up to `cap` under way, those under way first."""
        ids: list[int] = []
        for origin in sorted(self._queued, key=lambda o: self._under_way[o] == 0):  # stable sort
            queue = self._queued[origin]
            for _ in range(max(0, min(cap - self._under_way[origin], limit - len(ids), len(queue)))):
                ids.append(queue.popleft())
                self._under_way[origin] += 1
            if not queue:
                del self._queued[origin]
            if len(ids) >= limit:
                break
        return ids

    def done(self, feed_id: int) -> None:
        """A feed handed out is finished (or someone else had claimed it)."""
        origin = self._origin_of.get(feed_id)
        if origin is not None and self._under_way[origin] > 0:
            self._under_way[origin] -= 1


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
        per_origin: int = 4,
        on_alerts: Callable[[], None] | None = None,
        health: PollHealth | None = None,
        credentials: Mapping[str, Mapping[str, str]] | None = None,
        on_hub: Callable[[int, str, str | None, str | None], Awaitable[None]] | None = None,
        articles: Callable[[Callable[..., Awaitable[Any]], Callable[[], datetime]], ArticleStep] | None = None,
    ) -> None:
        """`capacity`: feeds claimed and not yet finished, at most; `per_origin`: feeds of
        one origin per claim (see the module docstring); `on_alerts` is called as soon
        as a feed's items have queued alerts, so the daemon can dispatch them at once
        instead of at its next dispatch tick. `health` records every poll's outcome (the
        daemon keeps one across reloads). `credentials`: request headers per feed URL
        (`feedlist.feed_headers`). `on_hub(feed id, url, hub, self URL)` after every
        feed document read, with the WebSub hub it names (None: none). `articles` builds the
        article step (linked articles of summary-only entries) on this poller; None: no
        article is ever fetched."""
        self.feeds = feeds
        self.pipeline = pipeline
        self.fetcher = fetcher
        self.cpu = cpu
        self.db = db
        self.settings = settings
        self.owner = owner
        self.capacity = max(capacity, 1)
        self.per_origin = per_origin
        self.on_alerts = on_alerts
        self.on_hub = on_hub
        self.last_progress = time.monotonic()  # the watchdog checks this moves
        self.health = health or PollHealth(settings.max_failing_s)
        self.credentials = credentials or {}
        self.clock_offset = timedelta(0)  # the database's clock minus ours, read each cycle
        self._successes = _Successes()
        self._committer = _Committer(pipeline, db)
        self.articles = articles(self._db, self._now) if articles is not None else None

    def _now(self) -> datetime:
        """The database's time as of now, for due times: instances whose clocks
        disagree still agree on when a feed is due."""
        return datetime.now(UTC) + self.clock_offset

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db, lambda: fn(*args, **kwargs))

    async def run_cycle(self, stop: asyncio.Event | None = None) -> CycleReport:
        """Poll every feed that is due, claiming more as slots free up, until none
        is due. On `stop`, claim nothing more and let in-flight polls finish
        within the grace period; the rest are cancelled and their leases released."""
        stop = stop or asyncio.Event()
        due_by = await self._db(self.feeds.now)  # feeds falling due during the cycle wait for the next one
        self.clock_offset = due_by - datetime.now(UTC)
        await self._retry_articles()
        report = CycleReport()
        started = time.monotonic()
        lease = timedelta(seconds=self.settings.lease_s)
        inflight: set[asyncio.Task[PollReport]] = set()
        plan = _DuePlan(self.per_origin)
        exhausted = False
        while True:
            free = self.capacity - len(inflight)
            if not stop.is_set() and not exhausted and (free >= self.capacity // 2 or not inflight):
                claimed = await self._claim(plan, free, lease, due_by)
                exhausted = not plan
                inflight.update(asyncio.create_task(self.poll(f)) for f in claimed)
            if not inflight:
                break
            done = await self._next_done(inflight, stop)
            for task in done:
                inflight.discard(task)
                report.polls.append(task.result())
                plan.done(report.polls[-1].feed_id)
                self.last_progress = time.monotonic()
            if self._successes.due_in() == 0.0:
                await self._flush()
            if exhausted and done and not stop.is_set():
                exhausted = False  # something finished: newly due feeds may be waiting
            if stop.is_set() and inflight:
                await self._drain(inflight, report)
                break
        await self._flush()
        report.seconds = time.monotonic() - started
        return report

    async def _retry_articles(self) -> None:
        """The articles earlier polls could not fetch and that are due again."""
        if self.articles is None:
            return
        try:
            await self.articles.retry_due(self.owner)
        except Exception:  # a bug here must not stop polling
            log.exception("article_retries_crashed")

    async def _claim(self, plan: _DuePlan, limit: int, lease: timedelta, due_by: datetime) -> list[FeedState]:
        """Lease up to `limit` feeds of the plan, reading what is due into it when it is
        empty; [] when nothing due is left. Feeds another instance leased since the
        plan was read are skipped."""
        if not plan:
            plan.refill(await self._db(self.feeds.due, due_by=due_by))
        while ids := plan.take(limit):
            claimed = await self._db(self.feeds.claim_due, self.owner, lease, len(ids), due_by=due_by, ids=ids)
            for feed_id in set(ids) - {f.id for f in claimed}:
                plan.done(feed_id)
            if claimed:
                return claimed
        return []

    async def _next_done(
        self, inflight: set[asyncio.Task[PollReport]], stop: asyncio.Event
    ) -> set[asyncio.Task[PollReport]]:
        """Wait until a poll finishes, `stop` is set or the pending batch of successes is due."""
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait(
            {*inflight, waiter}, timeout=self._successes.due_in(), return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        return done - {waiter}  # type: ignore[return-value]

    async def _flush(self) -> None:
        """Write the pending successes in one transaction (only the feeds we still hold)."""
        batch = self._successes.take()
        if not batch:
            return
        held = await self._db(self.feeds.record_many, self.owner, batch)
        if held < len(batch):
            log.warning("lease_lost", feeds=len(batch) - held, hint="polled for longer than schedule.lease_s")

    async def _drain(self, inflight: set[asyncio.Task[PollReport]], report: CycleReport) -> None:
        done, pending = await asyncio.wait(inflight, timeout=self.settings.shutdown_grace_s)
        report.polls.extend(t.result() for t in done)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._flush()  # before the leases go: a write needs the lease
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
        self.health.record(report.result != "error")
        return report

    async def _poll(self, feed: FeedState) -> PollReport:
        started = time.monotonic()
        target = feed.fetch_url  # the source's URL, or the feed its page declared
        try:
            with metrics.FETCH_SECONDS.time():
                fetched = await self.fetcher.fetch(target, Conditional(feed.etag, feed.last_modified),
                                                   self._credentials(feed, target))
        except FetchError as exc:
            if target != feed.url:  # the declared feed failed: the next poll starts from the page again
                return await self._failed(feed, f"the page declares the feed {target}: {exc}", exc.retry_after_s,
                                          kind=exc.kind, unresolve=True)
            return await self._failed(feed, str(exc), exc.retry_after_s, gone=exc.gone, kind=exc.kind)

        now = self._now()
        asked = [schedule.Asked(fetched.max_age_s, "Cache-Control/Expires")] if fetched.max_age_s else []
        hours = PublishingHours.of(feed.publish_hours)
        if fetched.status == 304 or fetched.body is None:
            plan = self._plan(feed, now, asked, hours, published=[])
            self._successes.add(Success(
                feed.id, now, plan.next_poll_at, plan.interval_s, etag=fetched.etag or feed.etag,
                last_modified=fetched.last_modified or feed.last_modified,
                stale=schedule.is_stale(self.settings, now, publish_gap_s=feed.publish_gap_s,
                                        last_new_item_at=feed.newest_entry_at),
                slower_because=plan.slower_because,
            ))
            log.info("poll", feed=feed.url, result="not-modified", next_poll_at=plan.next_poll_at.isoformat(),
                     ms=round((time.monotonic() - started) * 1000))
            return PollReport(feed.id, feed.url, "not-modified")

        try:
            fetched, prepared = await self._read(feed, fetched)
        except FetchError as exc:
            return await self._failed(feed, str(exc), exc.retry_after_s, kind=exc.kind, unresolve=True)
        except InputError as exc:
            if feed.reading == "feed":  # the declared feed: the next poll starts from the page again
                return await self._failed(feed, f"the page declares the feed {target}, which cannot be read: {exc}",
                                          None, kind="parse", unresolve=True)
            return await self._failed(feed, str(exc), None, kind="parse")
        except WorkerDied as exc:  # twice, on this feed: most likely its cause (out of memory?)
            return await self._failed(feed, f"parse failed: {exc}", None, kind="parse")
        live = feed.last_success_at is not None  # a first poll takes the source's backlog
        new = await self._commit(feed.url, prepared, now, live=live)
        if self.on_hub is not None:
            await self.on_hub(feed.id, feed.url, prepared.hub, prepared.self_url)
        if prepared.ttl_s:
            asked.append(schedule.Asked(prepared.ttl_s, "RSS ttl"))
        if new:
            hours = hours.add(t for r in new if (t := publication_time(r.item.published, now, live=live)))
        newest = max(prepared.published, default=None)
        plan = self._plan(feed, now, asked, hours, published=prepared.published)
        self._successes.add(Success(
            feed.id, now, plan.next_poll_at, plan.interval_s, etag=fetched.etag,
            last_modified=fetched.last_modified, document_title=prepared.title, publish_gap_s=plan.publish_gap_s,
            newest_entry_at=newest,
            stale=schedule.is_stale(self.settings, now, publish_gap_s=plan.publish_gap_s,
                                    last_new_item_at=newest or feed.newest_entry_at),
            problem=f"malformed feed: {prepared.problem}" if prepared.problem else None,
            slower_because=plan.slower_because, publish_hours=list(hours.counts) if new else None,
            resolved_as=prepared.read_as, resolved_url=prepared.declared_feed or feed.fetch_url,
        ))
        matched = sum(1 for r in new if r.hits)
        log.info(
            "poll", feed=feed.url, result="fetched", read_as=prepared.read_as, items=len(prepared.entries),
            new=len(new), matched=matched,
            malformed=prepared.problem is not None, next_poll_at=plan.next_poll_at.isoformat(),
            ms=round((time.monotonic() - started) * 1000),
        )
        return PollReport(feed.id, feed.url, "new" if new else "unchanged", len(prepared.entries), len(new),
                          matched)

    def _plan(
        self, feed: FeedState, now: datetime, asked: Sequence[schedule.Asked], hours: PublishingHours,
        *, published: Sequence[datetime],
    ) -> schedule.Plan:
        return schedule.after_success(
            self.settings, now, previous_gap_s=feed.publish_gap_s, published=published, asked=asked,
            configured_interval_s=feed.configured_interval_s, hours=hours, pushed=feed.pushed(now),
        )

    def _credentials(self, feed: FeedState, url: str) -> Mapping[str, str] | None:
        """The source's request headers, for its own URL and others on its origin only."""
        if url != feed.url and _origin(url) != _origin(feed.url):
            return None
        return self.credentials.get(feed.url)

    async def _read(self, feed: FeedState, fetched: Fetched) -> tuple[Fetched, PreparedFeed]:
        """Read a fetched document as the source says (`FeedState.reading`); a page that
        declares its feed has that feed fetched and read instead (discovery). What was
        fetched last (its validators are the ones to keep) and its entries, prepared.
        InputError (FetchError among them) when nothing can be read."""
        assert fetched.body is not None
        prepared = await self._prepare(feed.url, fetched.body, fetched.headers, url=fetched.url,
                                       reading=feed.reading, selector=feed.link_selector)
        if prepared.declared_feed is None:
            return fetched, prepared
        declared = prepared.declared_feed
        try:
            fetched = await self.fetcher.fetch(declared, credentials=self._credentials(feed, declared))
        except FetchError as exc:  # not `gone`: a 410 of the declared feed does not end the source
            raise FetchError(exc.kind, f"the page declares the feed {declared}: {exc}",
                             retry_after_s=exc.retry_after_s) from exc
        assert fetched.body is not None
        try:
            prepared = await self._prepare(feed.url, fetched.body, fetched.headers, url=fetched.url, reading="feed")
        except InputError as exc:
            raise InputError(f"the page declares the feed {declared}, which cannot be read: {exc}") from exc
        log.info("feed_discovered", feed=feed.url, declared=declared)
        return fetched, replace(prepared, declared_feed=declared)

    async def _prepare(
        self, source: str, body: bytes, headers: Mapping[str, str], *, url: str | None = None,
        reading: str = "feed", selector: str | None = None,
    ) -> PreparedFeed:
        """Read and prepare a fetched document in a worker (InputError: nothing to read in
        it), then the article step: the new entries that need their linked article (a
        summary, or a listing page's link) prepared from it."""
        loop = asyncio.get_running_loop()
        fulltext = self.articles.policy(source).fulltext if self.articles is not None else "never"
        prepared = await loop.run_in_executor(
            self.cpu, prepare_feed, body, dict(headers), source, url, reading, selector, fulltext)
        if self.articles is None:
            return prepared
        return replace(prepared, entries=await self.articles.complete(source, prepared))

    async def _commit(self, source: str, prepared: PreparedFeed, now: datetime, *, live: bool) -> list[Result]:
        """Commit a prepared document's entries; the results of the items stored new.
        `live`: seen as they are published, so each dated item's delay counts (a
        source's first poll takes its whole backlog, which says nothing of latency)."""
        entries = prepared.entries
        if live:
            entries = [replace(p, delay_s=seen_delay(p.item.published, now)) for p in entries]
        results = await self._committer.commit(source, entries)
        if self.on_alerts is not None and any(r.outcome.alert_ids for r in results):
            self.on_alerts()
        new = [r for r in results if r.outcome.item_id is not None]
        delays = [entry.delay_s for entry, r in zip(entries, results, strict=True)
                  if r.outcome.item_id is not None and entry.delay_s is not None]
        metrics.record_ingested(len(new), [r.rules for r in new if r.hits and r.outcome.story_id is None], delays)
        for r in new:
            if r.hits and r.outcome.story_id is None:
                log.info("match", feed=source, item_id=r.outcome.item_id, rules=",".join(r.rules),
                         title=r.item.title[:200])
        return new

    async def ingest_pushed(self, source: str, body: bytes, headers: Mapping[str, str]) -> int:
        """A document a WebSub hub pushed for `source`: the same prepare and commit as a
        poll, at once; its schedule is left to polling. The number of new items."""
        prepared = await self._prepare(source, body, headers)
        new = await self._commit(source, prepared, self._now(), live=True)
        log.info("push", feed=source, items=len(prepared.entries), new=len(new))
        return len(new)

    async def _failed(
        self, feed: FeedState, error: str, retry_after_s: float | None, *, gone: bool = False, kind: str = "error",
        unresolve: bool = False,
    ) -> PollReport:
        now = self._now()
        errors = feed.consecutive_errors + 1
        plan = schedule.after_failure(
            self.settings, now, interval_s=feed.interval_s, consecutive_errors=errors, retry_after_s=retry_after_s
        )
        next_poll_at = plan.next_poll_at
        await self._db(
            self.feeds.record_failure, feed.id, self.owner, now=now, error=error, next_poll_at=next_poll_at,
            gone=gone, slower_because=plan.slower_because, unresolve=unresolve,
        )
        if gone:
            log.warning("feed_disabled", feed=feed.url, reason=error)
        else:
            log.warning("poll_failed", feed=feed.url, kind=kind, error=error, consecutive_errors=errors,
                        next_poll_at=next_poll_at.isoformat())
        return PollReport(feed.id, feed.url, "error", error=error)
