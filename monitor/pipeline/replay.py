"""Replay: fixture files through the same pipeline the daemon uses.

Inputs are all read and parsed before anything is stored, so a bad file stops a
replay with nothing half-written (unless the operator asks to keep going).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from monitor.alerts.settings import Route
from monitor.ingest import FixtureError, iter_fixture_paths, load_fixture, read_fixture
from monitor.items import Item, Prepared, Result
from monitor.pipeline.steps import Pipeline
from monitor.pipeline.workers import forked_pool, init_worker, make_pool, prepare_items

BATCH = 500  # items per transaction: large enough to amortise the commit
PREPARE_CHUNK = 100  # items per worker task: small, so the first batch is ready to store early
LOAD_CHUNK = 250  # files per task when many are parsed in parallel
PARALLEL_FROM = 2_000  # below this, starting worker processes costs more than it saves

Progress = Callable[[int], None]


@dataclass
class Loaded:
    items: list[Item] = field(default_factory=list)
    errors: list[FixtureError] = field(default_factory=list)
    files: int = 0


def fixture_paths(args: Sequence[str]) -> list[Path | None]:
    return list(iter_fixture_paths(args))


def load(paths: Sequence[Path | None], progress: Progress | None = None) -> Loaded:
    """Read and parse every input; many files are parsed by forked processes."""
    pool = forked_pool(os.cpu_count() or 1) if len(paths) >= PARALLEL_FROM and None not in paths else None
    if pool is None:
        return _load_files(paths, progress)
    loaded = Loaded()
    with pool:
        tasks = [paths[start : start + LOAD_CHUNK] for start in range(0, len(paths), LOAD_CHUNK)]
        for task, part in zip(tasks, pool.map(_load_files, tasks), strict=True):
            loaded.items += part.items
            loaded.errors += part.errors
            loaded.files += part.files
            if progress:
                progress(len(task))
    return loaded


def _load_files(paths: Sequence[Path | None], progress: Progress | None = None) -> Loaded:
    loaded = Loaded()
    for path in paths:
        try:
            data = sys.stdin.buffer.read() if path is None else read_fixture(path)
            loaded.items.extend(load_fixture(path, data))
            loaded.files += 1
        except FixtureError as exc:
            loaded.errors.append(exc)
        if progress:
            progress(1)
    return loaded


def worker_pool(rule_paths: Sequence[Path], routes: Sequence[Route], items: int) -> Executor | None:
    """Worker processes for a large replay on a machine with cores to spare:
    forked where that is safe (`monitor replay` has no threads), as they then start
    at once, else the daemon's forkserver pool."""
    cores = os.cpu_count() or 1
    if items < PARALLEL_FROM or cores < 2:
        return None
    return forked_pool(cores, init_worker, (list(rule_paths), list(routes))) or make_pool(rule_paths, cores, routes)


def run(
    pipeline: Pipeline,
    items: Sequence[Item],
    *,
    dry_run: bool,
    progress: Progress | None = None,
    workers: Executor | None = None,
) -> Iterator[Result]:
    """Yield one result per item, in input order, storing in per-source batches.

    With `workers` (a pool from `worker_pool`), chunks are classified in
    other processes while this one stores the previous chunk.
    """
    chunks = [
        (source, batch[start : start + BATCH])
        for source, group in groupby(items, key=lambda item: item.source)
        for batch in [list(group)]
        for start in range(0, len(batch), BATCH)
    ]
    with _long_lived_frozen():
        if workers is None:
            prepared: Iterator[list[Prepared]] = (pipeline.prepare(chunk) for _, chunk in chunks)
        else:
            prepared = _prepare_in(workers, [chunk for _, chunk in chunks])
        for (source, chunk), classified in zip(chunks, prepared, strict=True):
            yield from pipeline.commit([(source, classified)], dry_run=dry_run)[0]
            if progress:
                progress(len(chunk))


@contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Keep what exists before the replay (the loaded items, the rules, every
    module) out of the garbage collector's full passes, which would otherwise
    walk it again and again: a fifth of the storing process's CPU. Forked workers
    inherit the freeze, so their passes skip (and do not copy) the parent's pages."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _prepare_in(workers: Executor, chunks: Sequence[Sequence[Item]]) -> Iterator[list[Prepared]]:
    """Each chunk prepared by the workers, in order, as tasks of PREPARE_CHUNK items."""
    tasks = [chunk[start : start + PREPARE_CHUNK]
             for chunk in chunks for start in range(0, len(chunk), PREPARE_CHUNK)]
    results = workers.map(prepare_items, tasks)
    for chunk in chunks:
        parts = -(-len(chunk) // PREPARE_CHUNK)  # ceiling division: the tasks this chunk was cut into
        yield [classified for _ in range(parts) for classified in next(results)]
