"""The CPU-bound half of a poll (parse, normalize, classify, fingerprint), run in
worker processes so parsing uses every core and never blocks the event loop.

Each worker compiles the rules once, at start, and routes matches with the
same `[[routes]]` as the daemon, so the alerts a worker prepares are exactly
the ones `monitor replay` would write. The functions here take and return
plain picklable values; storage stays in the daemon process. Workers given a
database (`rules test`, `reclassify`) read stored items themselves, over a
connection of their own, and only read.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, InvalidStateError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor import logs
from monitor.alerts.routing import Router
from monitor.alerts.settings import Route
from monitor.ingest.discovery import Reading, resolve
from monitor.ingest.summaries import FulltextMode, wants_article
from monitor.items import ArticlePage, Item, Prepared
from monitor.pipeline.steps import Pipeline
from monitor.rules import compile_rules, load_rules
from monitor.rules.version import version_of
from monitor.store.engine import make_engine
from monitor.store.stored import StoredItems

_pipeline: Pipeline | None = None
_stored: StoredItems | None = None
log = logs.get("workers")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True, slots=True)
class Database:
    """The database a worker reads stored items from, opened in the worker."""

    url: str = field(repr=False)  # it may hold a password
    busy_timeout_ms: int = 10_000


class WorkerDied(BrokenProcessPool):
    """A worker died on this task twice (first in the pool that broke, then in its replacement)."""


@dataclass(frozen=True, slots=True)
class PreparedFeed:
    title: str | None
    ttl_s: int | None
    problem: str | None  # the document was malformed but still yielded entries
    published: list[datetime]
    entries: list[Prepared]
    hub: str | None = None  # the WebSub hub the document names
    self_url: str | None = None  # its rel="self" URL: the WebSub topic
    read_as: str = "feed"  # "feed", or "page": a listing page whose entries are its article links
    declared_feed: str | None = None  # an HTML page naming its feed: read that instead (no entries)
    wanted: list[tuple[int, Item]] = field(default_factory=list)  # (index, raw entry) whose article to fetch


def init_worker(rule_paths: Sequence[Path], routes: Sequence[Route] = (), database: Database | None = None) -> None:
    ruleset = load_rules(rule_paths)
    init_forked(Pipeline(compile_rules(ruleset), store=None, route=Router(routes),
                         rules_version=version_of(ruleset).id), database)


def init_forked(pipeline: Pipeline, database: Database | None = None) -> None:
    """In a worker forked from the process that built `pipeline` (`forked_pool`):
    use it as it is, already compiled (a forked child has it; nothing is pickled)."""
    global _pipeline, _stored
    _pipeline = pipeline
    if database is not None:
        # Deferred transactions (read_mostly): on SQLite, readers take no write lock.
        engine = make_engine(database.url, busy_timeout_ms=database.busy_timeout_ms, read_mostly=True)
        multiprocessing.util.Finalize(engine, engine.dispose, exitpriority=10)  # close it when the worker ends
        _stored = StoredItems(engine)


def prepare_feed(
    body: bytes, headers: Mapping[str, str], source: str, url: str | None = None, reading: Reading = "feed",
    selector: str | None = None, fulltext: FulltextMode = "never",
) -> PreparedFeed:
    """Read one fetched document for `source` (`url`: where it came from, default the
    source's URL) as `reading` says (`monitor.ingest.discovery`) and prepare its
    entries. Raises InputError (FeedError, ...) for a document nothing can be read from.

    Every entry is prepared as the document gives it; those whose article `fulltext`
    calls for are also listed in `wanted`, for the poller to fetch (only the new ones)
    and `prepare_articles`. A listing page's entries are only links: all are wanted."""
    assert _pipeline is not None, "init_worker() was not called in this process"
    resolved = resolve(body, headers, source=source, url=url or source, reading=reading, selector=selector)
    parsed = resolved.parsed
    if parsed is None:
        return PreparedFeed(None, None, None, [], [], read_as=resolved.read_as, declared_feed=resolved.declared_feed)
    mode: FulltextMode = "always" if resolved.read_as == "page" else fulltext
    wanted = [(i, item) for i, (item, want) in enumerate(zip(parsed.items, wants_article(parsed.items, mode),
                                                             strict=True)) if want]
    return PreparedFeed(
        title=parsed.title,
        ttl_s=parsed.ttl_seconds,
        problem=parsed.problem,
        published=[i.published for i in parsed.items if i.published is not None],
        entries=_pipeline.prepare(parsed.items),
        hub=parsed.hub,
        self_url=parsed.self_url,
        read_as=resolved.read_as,
        wanted=wanted,
    )


def prepare_articles(items: Sequence[Item], pages: Sequence[ArticlePage]) -> list[Prepared]:
    """Entries with their fetched articles: extracted and prepared (`Pipeline.prepare`)."""
    assert _pipeline is not None, "init_worker() was not called in this process"
    return _pipeline.prepare(items, pages)


def prepare_items(items: Sequence[Item]) -> list[Prepared]:
    """A replay chunk: what `Pipeline.prepare` decides, computed in a worker."""
    assert _pipeline is not None, "init_worker() was not called in this process"
    return _pipeline.prepare(items)


def in_worker(task: Callable[..., Any], /, *args: Any) -> Any:
    """`task(pipeline, stored, *args)` with this worker's pipeline and its own
    connection to the database (`monitor.pipeline.stored`)."""
    assert _pipeline is not None and _stored is not None, "init_worker() was not given a database"
    return task(_pipeline, _stored, *args)


def make_pool(
    rule_paths: Sequence[Path], workers: int, routes: Sequence[Route] = (), database: Database | None = None
) -> Executor:
    """Worker processes, started now so the first poll does not wait for them, and
    replaced when one dies (`SupervisedPool`).

    forkserver, because the daemon has threads (scheduler, database) that must not
    be forked. The fork server imports this module once and each worker forks from
    it with everything imported, instead of spending about a second of CPU each on
    imports; the server lives as long as the daemon, so a new pool starts as
    cheaply. Workers die with the fork server, which exits with the daemon.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])

    def start() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_child,
            initargs=(None, init_worker, (list(rule_paths), list(routes), database)),  # their parent: the fork server
        )
        for _ in range(workers):  # each submission with no idle worker starts one
            pool.submit(int)
        return pool

    return SupervisedPool(start)


class SupervisedPool(Executor):
    """A process pool that survives its workers: when one dies (the OOM killer, a
    `kill -9`), concurrent.futures marks the whole pool broken for good, so a new
    one is started and every task that was in flight is submitted once more. A task
    whose second run dies too fails with `WorkerDied`: it is most likely the cause."""

    def __init__(self, start: Callable[[], ProcessPoolExecutor]) -> None:
        self._start = start
        self._lock = threading.Lock()
        self._pool = start()
        self._closed = False
        self.replaced = 0  # pools started after a worker died

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        outer: Future[Any] = Future()
        self._run(outer, fn, args, kwargs, retry=True)
        return outer

    def _run(self, outer: Future[Any], fn: Callable[..., Any], args: Any, kwargs: Any, *, retry: bool) -> None:
        pool = self._pool
        try:
            inner = pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool as exc:  # broke before this submission: no run was lost
            if self._closed:
                outer.set_exception(exc)
                return
            self._replace(pool)
            self._run(outer, fn, args, kwargs, retry=retry)
            return
        except RuntimeError as exc:  # shut down meanwhile
            outer.set_exception(exc)
            return

        def settle(done: Future[Any]) -> None:
            if outer.done():  # cancelled meanwhile
                return
            exc = done.exception() if not done.cancelled() else None
            if isinstance(exc, BrokenProcessPool):
                self._replace(pool)
                if retry:
                    self._run(outer, fn, args, kwargs, retry=False)
                    return
                exc = WorkerDied(f"a parse worker died twice running this task ({exc})")
            try:
                if done.cancelled():
                    outer.cancel()
                elif exc is not None:
                    outer.set_exception(exc)
                else:
                    outer.set_result(done.result())
            except InvalidStateError:  # cancelled by its caller in between
                pass

        inner.add_done_callback(settle)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Start a new pool unless another task already replaced `broken`."""
        with self._lock:
            if self._pool is not broken or self._closed:
                return
            self._pool = self._start()
            self.replaced += 1
        broken.shutdown(wait=False)
        log.warning("parse_workers_replaced", reason="a worker process died", replaced=self.replaced)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True  # a pool breaking now is not replaced
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _init_child(parent: int | None, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """In a new worker: die with the process that started it, then the real initializer."""
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(parent: int | None) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux; elsewhere the
    pool's own EOF handling is all there is). `parent`, when known: if it is already
    gone (it died before the request was made), exit now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def forked_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> Executor | None:
    """Forked worker processes, which start at once with everything the parent has
    imported (`monitor replay`). None with fewer than two workers, or in a process
    with threads: forking one is unsafe, so the daemon uses `make_pool`."""
    if workers < 2 or threading.active_count() > 1:
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_init_child, initargs=(os.getpid(), initializer, initargs))
