"""Stored items through the rules again: the driver `monitor rules test` and
`monitor reclassify` share. It classifies with `Pipeline.scan`, the last step of
the one classification (stored text is already normalized, its language
already detected), in the parse workers when there are many items, a bounded
number of batches ahead of the caller, so memory stays flat.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from pathlib import Path

from monitor.items import Hit
from monitor.pipeline.steps import Pipeline
from monitor.pipeline.workers import forked_pool, init_worker, make_pool, scan_items
from monitor.store.stored import StoredEntry

TASK = 250  # items per worker task
PARALLEL_FROM = 2_000  # below this, starting workers costs more than it saves

Classified = tuple[list[StoredEntry], list[list[Hit]]]


def worker_pool(rule_paths: Sequence[Path], items: int) -> Executor | None:
    """Worker processes compiling `rule_paths`, one per core, for many items; None for few."""
    cores = os.cpu_count() or 1
    if items < PARALLEL_FROM or cores < 2:
        return None
    return forked_pool(cores, init_worker, (list(rule_paths), [])) or make_pool(rule_paths, cores)


def classified(
    pipeline: Pipeline, batches: Iterable[list[StoredEntry]], workers: Executor | None = None, *, ahead: int = 4
) -> Iterator[Classified]:
    """Each batch with the new hits of each of its items, in order. With `workers`,
    up to `ahead` batches are classified while the caller handles the first."""
    if workers is None:
        for batch in batches:
            yield batch, [pipeline.scan(entry.item) for entry in batch]
        return
    pending: deque[tuple[list[StoredEntry], list[Future[list[list[Hit]]]]]] = deque()
    for batch in batches:
        items = [entry.item for entry in batch]
        pending.append((batch, [workers.submit(scan_items, items[i : i + TASK]) for i in range(0, len(items), TASK)]))
        if len(pending) > ahead:
            yield _collect(*pending.popleft())
    while pending:
        yield _collect(*pending.popleft())


def _collect(batch: list[StoredEntry], tasks: list[Future[list[list[Hit]]]]) -> Classified:
    return batch, [hits for task in tasks for hits in task.result()]
