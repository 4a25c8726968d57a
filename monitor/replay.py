"""Replay: fixture files through the same pipeline the daemon uses.

Inputs are all read and parsed before anything is stored, so a bad file stops a
replay with nothing half-written (unless the operator asks to keep going).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from monitor.alerts.settings import Route
from monitor.ingest import FixtureError, iter_fixture_paths, load_fixture, read_fixture
from monitor.items import Item
from monitor.pipeline import Pipeline, Result
from monitor.store.repository import Classified
from monitor.workers import make_pool, prepare_items

BATCH = 500  # items per transaction: large enough to amortise the commit
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
    """Worker processes for a large replay on a machine with cores to spare."""
    cores = os.cpu_count() or 1
    if items < PARALLEL_FROM or cores < 2:
        return None
    return make_pool(rule_paths, cores, routes)


def run(
    pipeline: Pipeline,
    items: Sequence[Item],
    *,
    dry_run: bool,
    progress: Progress | None = None,
    workers: Executor | None = None,
) -> Iterator[Result]:
    """Yield one result per item, in input order, storing in per-source batches.

    With `workers` (a pool from `monitor.workers.make_pool`), chunks are
    classified in other processes while this one stores the previous chunk.
    """
    chunks = [
        (source, batch[start : start + BATCH])
        for source, group in groupby(items, key=lambda item: item.source)
        for batch in [list(group)]
        for start in range(0, len(batch), BATCH)
    ]
    if workers is None:
        prepared: Iterator[list[Classified]] = (pipeline.prepare(chunk) for _, chunk in chunks)
    else:
        prepared = workers.map(prepare_items, [chunk for _, chunk in chunks])
    for (source, chunk), classified in zip(chunks, prepared, strict=True):
        yield from pipeline.commit(source, classified, dry_run=dry_run)
        if progress:
            progress(len(chunk))
