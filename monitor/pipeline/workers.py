"""The CPU-bound half of a poll (parse, normalize, classify, fingerprint), run in
worker processes so parsing uses every core and never blocks the event loop.

Each worker compiles the rules once, at start, and routes matches with the
same `[[routes]]` as the daemon, so the alerts a worker prepares are exactly
the ones `monitor replay` would write. The functions here take and return
plain picklable values; storage stays in the daemon process.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.alerts.routing import Router
from monitor.alerts.settings import Route
from monitor.ingest import ParsedFeed, parse_feed
from monitor.items import Item, Prepared
from monitor.pipeline.steps import Pipeline
from monitor.rules import compile_rules, load_rules

_pipeline: Pipeline | None = None


@dataclass(frozen=True, slots=True)
class PreparedFeed:
    title: str | None
    ttl_s: int | None
    problem: str | None  # the document was malformed but still yielded entries
    published: list[datetime]
    entries: list[Prepared]
    hub: str | None = None  # the WebSub hub the document names
    self_url: str | None = None  # its rel="self" URL: the WebSub topic


def init_worker(rule_paths: Sequence[Path], routes: Sequence[Route] = ()) -> None:
    global _pipeline
    _pipeline = Pipeline(compile_rules(load_rules(rule_paths)), store=None, route=Router(routes))


def prepare_feed(body: bytes, headers: Mapping[str, str], source: str) -> PreparedFeed:
    """Raises FeedError for a document that is not a feed."""
    assert _pipeline is not None, "init_worker() was not called in this process"
    parsed: ParsedFeed = parse_feed(body, headers, source=source)
    return PreparedFeed(
        title=parsed.title,
        ttl_s=parsed.ttl_seconds,
        problem=parsed.problem,
        published=[i.published for i in parsed.items if i.published is not None],
        entries=_pipeline.prepare(parsed.items),
        hub=parsed.hub,
        self_url=parsed.self_url,
    )


def prepare_items(items: Sequence[Item]) -> list[Prepared]:
    """A replay chunk: what `Pipeline.prepare` decides, computed in a worker."""
    assert _pipeline is not None, "init_worker() was not called in this process"
    return _pipeline.prepare(items)


def make_pool(rule_paths: Sequence[Path], workers: int, routes: Sequence[Route] = ()) -> Executor:
    """Worker processes, started now so the first poll does not wait for them.

    forkserver, because the daemon has threads (scheduler, database) that must not
    be forked. The fork server imports this module once and each worker forks from
    it with everything imported, instead of spending about a second of CPU each on
    imports; the server lives as long as the daemon, so a worker that dies is
    replaced as cheaply.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=init_worker,
        initargs=(list(rule_paths), list(routes)),
    )
    for _ in range(workers):  # each submission with no idle worker starts one
        pool.submit(int)
    return pool


def forked_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> Executor | None:
    """Forked worker processes, which start at once with everything the parent has
    imported (`monitor replay`). None with fewer than two workers, or in a process
    with threads: forking one is unsafe, so the daemon uses `make_pool`."""
    if workers < 2 or threading.active_count() > 1:
        return None
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=initializer, initargs=initargs)
