"""The application: from a loaded config to the use cases the CLI, the daemon
and the tests call. `cli.py` parses arguments and prints what these return.

Heavy modules (the rule compiler, feed parsers, HTTP, the dashboard) are
imported by the use case that needs them, so `monitor --help` or a cron run of
`monitor poll --once` with nothing due starts in a fraction of a second.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from monitor.config import Config
from monitor.errors import ConfigError, DatabaseError
from monitor.store import migrations
from monitor.store.engine import make_engine

if TYPE_CHECKING:
    from monitor.alerts.delivery import Delivery
    from monitor.alerts.dispatcher import Dispatcher, PassReport
    from monitor.alerts.routing import Router
    from monitor.ingest.discovery import Discovery
    from monitor.items import Hit, Item, Result
    from monitor.pipeline import Pipeline
    from monitor.pipeline.backtest import Backtest
    from monitor.pipeline.replay import Loaded
    from monitor.pipeline.reports import CycleReport
    from monitor.pipeline.workers import Database
    from monitor.rules import Matcher, RuleSet, SetAside
    from monitor.rules.version import RulesVersion
    from monitor.store.alerts import AlertRow, AttemptRow, DisabledChannel, Outbox, Retried
    from monitor.store.feeds import FeedState
    from monitor.store.maintenance import Backup, DatabaseStats
    from monitor.store.matches import Match
    from monitor.store.repository import Store
    from monitor.store.retention import RetentionPolicy

Progress = Callable[[int], None]


def owner_id(role: str = "") -> str:
    """Who holds a lease: readable in `monitor feeds` and `alerts list`, unique per process."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}{secrets.token_hex(3)}"


@dataclass
class App:
    config: Config

    # databases -------------------------------------------------------------

    @cached_property
    def engine(self) -> Engine:
        return make_engine(
            self.config.database_url, busy_timeout_ms=self.config.settings.database.busy_timeout_ms
        )

    @cached_property
    def read_engine(self) -> Engine:
        """For the dashboard: on SQLite its reads never wait behind the daemon's writes."""
        return make_engine(
            self.config.database_url,
            busy_timeout_ms=self.config.settings.database.busy_timeout_ms,
            read_mostly=True,
        )

    @property
    def database_label(self) -> str:
        """The database URL with any password masked, for messages and logs."""
        return make_url(self.config.database_url).render_as_string(hide_password=True)

    @contextmanager
    def database(self) -> Iterator[None]:
        """A database that cannot be reached or read becomes a DatabaseError naming it."""
        try:
            yield
        except OperationalError as exc:
            raise DatabaseError(f"database {self.database_label}: {exc.orig}") from exc

    def upgrade(self) -> str | None:
        """Apply pending migrations; the revision the database is at now."""
        with self.database():
            migrations.upgrade(self.engine)
            return migrations.current(self.engine)

    def revision(self) -> tuple[str | None, str | None]:
        """(the database's revision, the newest this code knows)."""
        with self.database():
            return migrations.current(self.engine), migrations.HEAD

    def is_migrated(self) -> bool:
        """True when the database exists and is at the newest migration."""
        url = make_url(self.config.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            if not Path(url.database).exists():
                return False
        current, head = self.revision()
        return current == head

    def store(self) -> Store:
        from monitor.store.repository import Store

        return Store(self.engine)

    # rules and routes --------------------------------------------------------

    @cached_property
    def ruleset(self) -> RuleSet:
        from monitor.rules import load_rules

        return load_rules(self.config.rule_paths)

    @cached_property
    def matcher(self) -> Matcher:
        from monitor.rules import compile_rules

        return compile_rules(self.ruleset)

    @cached_property
    def router(self) -> Router:
        """Routes checked against the channels and the rule pack (ConfigError naming
        the file and key): a route to nowhere must stop the start, not drop alerts."""
        from monitor.alerts.routing import Router
        from monitor.alerts.settings import check_alerts

        settings = self.config.settings
        problems = check_alerts(settings.channels, settings.routes, settings.alerts, self.ruleset.ids)
        if problems:
            raise ConfigError("\n".join(f"{self.config.path}: {p}" for p in problems))
        return Router(settings.routes)

    def check(self) -> None:
        """Compile the rules and check the routes: RuleError or ConfigError before any work."""
        _ = self.matcher, self.router

    @cached_property
    def rules_version(self) -> RulesVersion:
        """The version of the rules in force (`monitor.rules.version`)."""
        from monitor.rules.version import version_of

        return version_of(self.ruleset)

    @property
    def rule_descriptions(self) -> dict[str, str]:
        return {rule.id: rule.description for rule in self.ruleset}

    def pipeline(self, *, store: bool = True) -> Pipeline:
        from monitor.pipeline import Pipeline

        return Pipeline(self.matcher, self.store() if store else None, self.router, self.rules_version.id)

    def open_pipeline(self, *, dry_run: bool) -> Pipeline:
        """A checked pipeline on a migrated database; a dry run migrates nothing and
        runs without a store when the database does not exist yet."""
        self.check()
        if dry_run:
            return self.pipeline(store=self.is_migrated())
        self.upgrade()
        record_rules_version(self)
        return self.pipeline()

    # alert delivery ----------------------------------------------------------

    def outbox(self) -> Outbox:
        from monitor.store.alerts import Outbox

        self.upgrade()
        return Outbox(self.engine)

    def dispatcher(self, owner: str, db: Executor, clock: Callable[[], datetime] | None = None) -> Dispatcher:
        """Raises ConfigError when a channel cannot be used (a missing secret…);
        `clock`: the time the dispatcher claims by (tests; default: now)."""
        from monitor.alerts.channels import ChannelError, build_senders
        from monitor.alerts.dispatcher import Dispatcher
        from monitor.store.alerts import Outbox

        settings = self.config.settings
        try:
            senders = build_senders(settings.channels, self.config.base_dir)
        except ChannelError as exc:
            raise ConfigError(f"{self.config.path}: {exc}") from exc
        return Dispatcher(Outbox(self.engine), senders, settings.alerts, owner=owner, db=db,
                          descriptions=self.rule_descriptions, clock=clock)


# replay and classify -----------------------------------------------------------


def fixture_paths(paths: Sequence[str]) -> list[Path | None]:
    """The files `paths` name, directories searched (FixtureError for a bad path; None: stdin)."""
    from monitor.pipeline import replay

    return replay.fixture_paths(paths)


def load_fixtures(files: Sequence[Path | None], progress: Progress | None = None) -> Loaded:
    """Read and parse every input before anything is stored."""
    from monitor.pipeline import replay

    return replay.load(files, progress)


def replay(
    app: App, pipeline: Pipeline, loaded: Loaded, *, dry_run: bool, progress: Progress | None = None
) -> Iterator[Result]:
    """`monitor replay`: the loaded items through `pipeline` (`App.open_pipeline`), one result
    each, in order; many items are prepared in worker processes."""
    from monitor.pipeline import replay

    workers = replay.worker_pool(app.config.rule_paths, app.config.settings.routes, len(loaded.items))
    try:
        yield from replay.run(pipeline, loaded.items, dry_run=dry_run, progress=progress, workers=workers)
    finally:
        if workers is not None:
            workers.shutdown()


def classify(app: App, path: Path | None) -> list[tuple[Item, list[Hit], list[SetAside]]]:
    """`monitor classify`: each item of one fixture (None: stdin), normalized, with its
    hits and the mentions that do not count (and why)."""
    import sys

    from monitor.ingest import load_fixture, read_fixture

    app.check()
    data = sys.stdin.buffer.read() if path is None else read_fixture(path)
    pipeline = app.pipeline(store=False)
    results = []
    for raw in load_fixture(path, data):
        set_aside: list[SetAside] = []
        item, hits = pipeline.classify(raw, set_aside)
        results.append((item, hits, set_aside))
    return results


# feeds -------------------------------------------------------------------------


def feed_states(app: App) -> list[FeedState]:
    from monitor.store.feeds import FeedStore

    app.upgrade()
    with app.database():
        return FeedStore(app.engine).all()


def push_states(app: App) -> dict[int, str]:
    """feed id -> its WebSub subscription in one line ("push: verified until …")."""
    from datetime import UTC

    from monitor.store.websub import SubscriptionStore
    from monitor.websub.protocol import describe

    now = datetime.now(UTC)
    with app.database():
        return {feed_id: describe(view, now) for feed_id, view in SubscriptionStore(app.engine).views().items()}


def article_states(app: App) -> dict[int, str]:
    """feed id -> its articles that could not be fetched, in one line
    ("articles: 2 to retry, 1 given up; last error: HTTP 500 …"), for feeds that have any."""
    from monitor.store.articles import ArticleRetries

    with app.database():
        counts = ArticleRetries(app.engine).counts()
    return {feed_id: f"articles: {c.pending} to retry, {c.gave_up} given up; last error: {c.last_error}"
            for feed_id, c in counts.items()}


def export_opml(app: App, *, include_disabled: bool) -> bytes:
    from monitor.feedlist import write_opml

    return write_opml(feed_states(app), include_disabled=include_disabled)


def discover_source(app: App, url: str, *, selector: str | None = None, page: bool = False) -> Discovery:
    """`monitor feeds discover`: what the poller would read at `url` (its feed, the feed
    it declares, or its article links and the first article's text), fetched with the
    config's fetch limits. InputError when nothing can be read there."""
    import asyncio

    from monitor.ingest.discovery import discover
    from monitor.ingest.http import Fetcher

    async def run() -> Discovery:
        async with Fetcher(app.config.settings.fetch) as fetcher:
            return await discover(fetcher, url, selector=selector, page=page)

    return asyncio.run(run())


def sync_feeds(app: App) -> str:
    """Migrate and sync the feed list from the config; the revision the database is at."""
    from monitor import logs
    from monitor.feedlist import listed_feeds
    from monitor.store.feeds import FeedStore

    revision = app.upgrade()
    with app.database():
        report = FeedStore(app.engine).sync(listed_feeds(app.config))
    logs.get("daemon").info("feeds_synced", listed=report.total, added=report.added, removed=report.removed,
                            restored=report.restored)
    return revision or "?"


def prepare_database(app: App) -> str:
    """Check the rules, migrate, sync the feed list: everything that must be right
    before the service says READY. The revision the database is at."""
    app.check()
    revision = sync_feeds(app)
    record_rules_version(app)
    return revision


def poll_once(app: App, *, all_feeds: bool = False) -> CycleReport:
    """`monitor poll --once`: one full cycle of every due feed. The rules are
    compiled, and worker processes, the HTTP client and the channels started,
    only when some feed is due: a cron run with nothing to do costs a query."""
    from monitor.feedlist import feed_headers
    from monitor.pipeline.reports import CycleReport
    from monitor.store.feeds import FeedStore

    feed_headers(app.config)  # a feed's missing secret is an error even on a quiet run
    sync_feeds(app)
    feeds = FeedStore(app.engine)
    with app.database():
        if all_feeds:
            feeds.make_all_due()
        if not feeds.due():
            return CycleReport()
    app.check()

    async def cycle() -> CycleReport:
        from monitor.daemon import build

        db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        runtime = await build(app, owner_id(), db)
        try:
            return await runtime.poller.run_cycle()
        finally:
            await runtime.close()
            db.shutdown(wait=True)

    import asyncio

    with app.database():
        return asyncio.run(cycle())


# alerts ------------------------------------------------------------------------


def list_alerts(
    app: App, *, state: str | None, channel: str | None, limit: int, with_attempts: bool
) -> tuple[list[AlertRow], dict[int, list[AttemptRow]], dict[str, DisabledChannel]]:
    """`monitor alerts list`: the alerts, their attempts (when asked) and the disabled channels."""
    with app.database():
        box = app.outbox()
        rows = box.list(state=state, channel=channel, limit=limit)
        attempts = {r.id: box.attempts(r.id) for r in rows} if with_attempts else {}
        return rows, attempts, box.disabled_channels()


def send_alerts(app: App) -> PassReport:
    """`monitor alerts send`: one dispatch pass, as the daemon's tick does."""
    app.check()
    app.outbox()

    async def run() -> PassReport:
        db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        dispatcher = app.dispatcher(owner_id("cli-"), db)
        try:
            await dispatcher.sync_channels()
            return await dispatcher.run()
        finally:
            await dispatcher.aclose()
            db.shutdown(wait=True)

    import asyncio

    with app.database():
        return asyncio.run(run())


def test_channel(app: App, channel: str) -> Delivery:
    """`monitor alerts test CHANNEL`: one sample message, straight to the channel
    (not through the outbox: it tests the channel, not the queue)."""
    from monitor.alerts.channels import build_senders
    from monitor.alerts.content import sample

    if channel not in app.config.settings.channels:
        raise ConfigError(f"no channel {channel!r} in {app.config.path}")
    senders = build_senders(app.config.settings.channels, app.config.base_dir, only=channel)

    async def run() -> Delivery:
        try:
            return await senders[channel].send(sample(channel, f"msg_test{secrets.token_hex(12)}"))
        finally:
            await senders.aclose()

    import asyncio

    return asyncio.run(run())


def digest_now(app: App, channel: str) -> int | None:
    """`monitor alerts digest CHANNEL`: collect the channel's digest now (then `send`)."""
    from monitor.alerts.digest import collect, schedules

    if channel not in {s.channel for s in schedules(app.config.settings.routes)}:
        raise ConfigError(f"channel {channel!r} has no digest route in {app.config.path}")
    with app.database():
        return collect(app.outbox(), channel)


def retry_alerts(app: App, ids: Sequence[int], *, dead: bool) -> Retried:
    with app.database():
        return app.outbox().retry(ids, dead=dead)


def enable_channel(app: App, channel: str) -> bool:
    with app.database():
        return app.outbox().enable_channel(channel)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    name: str
    type: str
    target: str
    routes: list[str]
    digest: str | None
    disabled: str | None  # why, when a receiver switched it off
    disabled_at: datetime | None
    pending: int
    dead: int


def channels(app: App) -> list[ChannelInfo]:
    """`monitor alerts channels`: every configured channel with its routes, state and backlog."""
    from monitor.alerts.digest import schedules
    from monitor.states import AlertState

    settings = app.config.settings
    with app.database():
        box = app.outbox()
        disabled = box.disabled_channels()
        counts = box.counts()
    digest = {s.channel: f"{s.crontab} {s.timezone}" for s in schedules(settings.routes)}
    infos = []
    for name, channel in settings.channels.items():
        routes = [f"{','.join(r.rules)} ({r.mode})" for r in settings.routes if r.channel == name]
        state = disabled.get(name)
        infos.append(ChannelInfo(
            name=name, type=channel.type, target=channel.target, routes=routes, digest=digest.get(name),
            disabled=state.reason if state else None, disabled_at=state.disabled_at if state else None,
            pending=counts.get((name, AlertState.PENDING), 0), dead=counts.get((name, AlertState.DEAD), 0),
        ))
    return infos


# matches -------------------------------------------------------------------------


def list_matches(
    app: App, *, rule: str | None, since: date | None, until: date | None, source: str | None,
    relevant_only: bool,
) -> Iterator[Match]:
    """`monitor matches`: the stored matches of a filter, newest first, read in
    batches (an export of a year of matches never sits in memory at once)."""
    from monitor.store.queries import DashboardQueries, MatchFilter

    if since and until and since > until:
        raise ConfigError(f"--since {since} is after --until {until}")
    with app.database():
        queries = DashboardQueries(app.engine)
        feed_id = None
        if source is not None:
            feed_id = queries.feed_id(source)
            if feed_id is None:
                raise ConfigError(f"no feed {source!r}: give its number, URL or title (see `monitor feeds`)")
        yield from queries.all_matches(MatchFilter(rule, feed_id, since, until, relevant_only))


# rules: versions, backtest, reclassify ------------------------------------------


def record_rules_version(app: App) -> None:
    """Record the version of the rules in force and log it, with the rules changed
    since the version this database saw last (daemon start and SIGHUP)."""
    from monitor import logs
    from monitor.rules.version import changes
    from monitor.store.stored import RulesVersions

    version = app.rules_version
    with app.database():
        previous = RulesVersions(app.engine).record(version.id, version.rules, version.files)
    changed = changes(previous, version.rules)
    logs.get("daemon").info(
        "rules_version", version=version.id, rules=len(version.rules), files=len(version.files),
        first=previous is None, added=",".join(changed.added) or None, removed=",".join(changed.removed) or None,
        changed=",".join(changed.changed) or None,
    )


def rules_test(
    app: App, files: Sequence[Path], *, since: datetime | None, rule: str | None, limit: int | None,
    progress: Progress | None = None, total: Callable[[int], None] | None = None,
) -> Backtest:
    """`monitor rules test`: candidate rule files (default: the config's rule paths as
    they are on disk now) against the stored items and their stored hits; nothing
    is written. Raises RuleError for a bad candidate, ConfigError for an unknown rule."""
    from monitor.pipeline import Pipeline
    from monitor.pipeline.backtest import Backtest
    from monitor.pipeline.stored import RANGE, backtest_range, over_ranges, worker_pool
    from monitor.rules import compile_rules, load_rules
    from monitor.store.stored import StoredItems

    paths = list(files) or app.config.rule_paths
    candidate = load_rules(paths)
    if rule is not None and rule not in candidate.ids:
        raise ConfigError(f"no rule {rule!r} in {', '.join(map(str, paths))} (rules: {', '.join(candidate.ids)})")
    pipeline = Pipeline(compile_rules(candidate), None)
    rules = [rule] if rule else list(candidate.ids)
    tally = Backtest(rules, limit)
    app.upgrade()
    stored = StoredItems(app.engine)
    with app.database():
        count = stored.count(since, stories=True)
        if total:
            total(count)
        workers = worker_pool(pipeline, count, worker_database(app), paths)
        try:
            spans = stored.ranges(since, stories=True, size=RANGE)
            for part in over_ranges(backtest_range, spans, (since, rules, limit), pipeline, stored, workers):
                tally.merge(part)
                if progress:
                    progress(part.scanned)
        finally:
            if workers is not None:
                workers.shutdown(cancel_futures=True)
        tally.describe(stored.entries(sorted(tally.shown())))
    return tally


def worker_database(app: App) -> Database:
    """The database as parse workers open it for themselves."""
    from monitor.pipeline.workers import Database

    return Database(app.config.database_url, app.config.settings.database.busy_timeout_ms)


@dataclass(frozen=True, slots=True)
class Reclassified:
    version: str
    scanned: int
    changed: int  # items whose hits changed (written, unless a dry run)
    unmatched: int  # of those, items that no longer match
    matched: int  # of those, items that match now and did not
    alerts: int  # alerts queued (--alert)
    resumed_after: int  # the item id an interrupted run resumed after (0: a new run)


def reclassify(
    app: App, *, since: datetime | None, since_text: str, rule: str | None, dry_run: bool, alert: bool,
    progress: Progress | None = None, total: Callable[[int], None] | None = None, batch: int | None = None,
) -> Reclassified:
    """`monitor reclassify`: the rules in force applied to the stored items, batch by
    batch. Resumes an interrupted run with the same rules and options."""
    from monitor.pipeline.stored import over_ranges, reclassify_range, worker_pool
    from monitor.store.stored import BATCH, StoredItems

    app.check()
    if rule is not None and rule not in app.ruleset.ids:
        raise ConfigError(f"no rule {rule!r} in the rules in force ({', '.join(app.ruleset.ids)})")
    version = app.rules_version.id
    pipeline = app.pipeline(store=False)
    if not dry_run:
        app.upgrade()
        record_rules_version(app)
    stored = StoredItems(app.engine)
    counts = {"scanned": 0, "changed": 0, "unmatched": 0, "matched": 0, "alerts": 0}
    with app.database():
        run = None if dry_run else stored.start_run(f"{version}|{since_text}|{rule}|{alert}", version)
        after = run.last_item_id if run else 0
        count = stored.count(since, after_id=after)
        if total:
            total(count)
        workers = worker_pool(pipeline, count, worker_database(app), app.config.rule_paths,
                              app.config.settings.routes)
        try:
            spans = stored.ranges(since, after_id=after, size=batch or BATCH)
            for part in over_ranges(reclassify_range, spans, (since, version, rule, alert), pipeline, stored,
                                    workers):
                counts["scanned"] += part.scanned
                counts["changed"] += len(part.changes)
                counts["unmatched"] += part.unmatched
                counts["matched"] += part.matched
                if run is not None:
                    counts["alerts"] += stored.apply(
                        run.id, part.changes, first_id=part.span.after_id + 1, last_id=part.span.last_id,
                        scanned=part.scanned, since=since, rules_version=None if rule else version,
                    )
                if progress:
                    progress(part.scanned)
        finally:
            if workers is not None:
                workers.shutdown(cancel_futures=True)
        if run is not None:
            stored.finish_run(run.id)
    return Reclassified(version, resumed_after=after, **counts)


# the database itself: size, backup, retention (issue 16) -------------------------------------


def database_stats(app: App) -> DatabaseStats:
    """`monitor db stats`: row counts, sizes, the oldest and newest item."""
    from monitor.store.maintenance import stats

    with app.database():
        return stats(app.engine)


def backup_database(app: App, target: Path) -> Backup:
    """`monitor db backup PATH`: a consistent copy of SQLite while the daemon runs."""
    from monitor.store.maintenance import backup

    with app.database():
        return backup(app.engine, target)


def retention_policy(app: App, now: datetime) -> RetentionPolicy:
    """The cut-offs of `[retention]` at `now`; a kind set to 0 days is kept forever.
    The story window's prints always go once the window has passed them."""
    from datetime import timedelta

    from monitor.dedupe import STORY_WINDOW
    from monitor.store.retention import RetentionPolicy

    settings = app.config.settings.retention

    def before(days: int) -> datetime | None:
        return now - timedelta(days=days) if days else None

    return RetentionPolicy(texts_before=before(settings.unmatched_text_days), hits_before=before(settings.hits_days),
                           attempts_before=before(settings.delivery_attempts_days), prints_before=now - STORY_WINDOW)
