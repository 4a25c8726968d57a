"""Stored items through the rules again: the driver `monitor rules test` and
`monitor reclassify` share. It classifies with `Pipeline.scan`, the last step of
the one classification (stored text is already normalized, its language
already detected).

The items are cut into ranges of ids (`StoredItems.ranges`, reading ids only).
With many items, each range is a task for a parse worker, which reads the
range itself over its own connection (SQLite in WAL mode and PostgreSQL both
serve concurrent readers), reads only what classification needs
(`StoredItems.texts`), and sends back only what differs: the partial tally of
`rules test` (by item id: the caller reads whole only the items it shows), the
changes of `reclassify` (with the whole items, read by id).
So the caller hands out ranges and merges small results, in id order, a bounded
number of ranges ahead: memory stays flat. Writes stay with the caller.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from monitor.alerts.settings import Route
from monitor.pipeline import reclassify as decide
from monitor.pipeline.backtest import Backtest
from monitor.pipeline.steps import Pipeline
from monitor.pipeline.workers import Database, forked_pool, in_worker, init_forked, make_pool
from monitor.store.stored import Change, Span, StoredItems

RANGE = 1_000  # items per range of `rules test` (reclassify: its --batch)
PARALLEL_FROM = 2_000  # below this, starting workers costs more than it saves
AHEAD = 2  # ranges in flight per worker

R = TypeVar("R")


def worker_pool(
    pipeline: Pipeline, items: int, database: Database, rule_paths: Sequence[Path], routes: Sequence[Route] = ()
) -> Executor | None:
    """Worker processes classifying with `pipeline` and reading `database`, one per
    core, for many items; None for few. Forked, they have `pipeline` already; else
    (a process with threads) each compiles `rule_paths` and `routes` itself."""
    cores = os.cpu_count() or 1
    if items < PARALLEL_FROM or cores < 2:
        return None
    return (forked_pool(cores, init_forked, (pipeline, database))
            or make_pool(rule_paths, cores, routes, database))


def over_ranges(
    task: Callable[..., R], spans: Iterable[Span], args: tuple[object, ...], pipeline: Pipeline,
    stored: StoredItems, workers: Executor | None = None,
) -> Iterator[R]:
    """`task(pipeline, stored, span, *args)` of each span, in order: in the workers
    (with their own pipeline and connection), up to AHEAD ranges per worker ahead
    of the caller, or here with `pipeline` and `stored`."""
    if workers is None:
        for span in spans:
            yield task(pipeline, stored, span, *args)
        return
    ahead = AHEAD * (os.cpu_count() or 1)
    pending: deque[Future[R]] = deque()
    for span in spans:
        pending.append(workers.submit(in_worker, task, span, *args))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def backtest_range(
    pipeline: Pipeline, stored: StoredItems, span: Span, since: datetime | None, rules: Sequence[str],
    limit: int | None,
) -> Backtest:
    """`rules test` of the stories in `span`: its tally (the items it would show by
    id: of all the ranges' tallies merged, only the first are read whole)."""
    texts = stored.texts(span, since, stories=True)
    tally = Backtest(rules, limit)
    tally.add(texts, [pipeline.scan(text) for text in texts])
    return tally


@dataclass(slots=True)
class Changes:
    """What `reclassify` writes for one range, and what it counts."""

    span: Span
    scanned: int = 0
    changes: list[Change] = field(default_factory=list)
    unmatched: int = 0  # of the changes, items that no longer match
    matched: int = 0  # of the changes, items that match now and did not


def reclassify_range(
    pipeline: Pipeline, stored: StoredItems, span: Span, since: datetime | None, version: str, rule: str | None,
    alert: bool,
) -> Changes:
    """`reclassify` of the items in `span`: the changes to write (`--alert`: with the
    alerts the pipeline's routes call for), the items changed read whole."""
    texts = stored.texts(span, since)
    after = {text.id: hits for text in texts
             if (hits := decide.hits_after(text.hits, pipeline.scan(text), rule=rule)) is not None}
    entries = stored.entries(list(after))
    route = pipeline.route if alert else None
    result = Changes(span, scanned=len(texts))
    for item_id, hits in after.items():
        if (entry := entries.get(item_id)) is None:
            continue  # deleted since (retention): nothing to write
        result.changes.append(decide.change(entry, hits, version=version, route=route))
        result.unmatched += bool(entry.hits) and not hits
        result.matched += not entry.hits and bool(hits)
    return result
