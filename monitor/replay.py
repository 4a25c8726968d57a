"""Replay: fixture files through the same pipeline the daemon uses.

Inputs are all read and parsed before anything is stored, so a bad file stops a
replay with nothing half-written (unless the operator asks to keep going).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from monitor.ingest import FixtureError, iter_fixture_paths, load_fixture, read_fixture
from monitor.items import Item
from monitor.pipeline import Pipeline, Result

BATCH = 500  # items per transaction: large enough to amortise the commit

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


def run(
    pipeline: Pipeline, items: Sequence[Item], *, dry_run: bool, progress: Progress | None = None
) -> Iterator[Result]:
    """Yield one result per item, in input order, storing in per-source batches."""
    for source, group in groupby(items, key=lambda item: item.source):
        batch = list(group)
        for start in range(0, len(batch), BATCH):
            chunk = batch[start : start + BATCH]
            yield from pipeline.process(source, chunk, dry_run=dry_run)
            if progress:
                progress(len(chunk))
