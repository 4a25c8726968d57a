"""Retention: what a year of data may shed, in small transactions.

Three things age out, each after its own number of days (`RetentionPolicy`):
the text of items that matched nothing (their `item_texts` row; their guid,
canonical URL and fingerprints stay, so dedupe still knows them), the hits of
old items, and the delivery attempts of old alerts (the alert row stays: it is
the idempotency record and says sent or dead). A fourth is not a setting: the
`story_prints` rows of items that left the story window. Items themselves are
never deleted: dedupe and `monitor matches` need them.

Every `step` is one transaction over at most `batch` rows, found through an
index, so the writers (a poll commit waits for SQLite's one write lock) are
never held up for long; the daemon runs the steps one by one on its database
thread, letting poll commits in between (`monitor.daemon`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import Connection, Engine, TextClause, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store._statements import Statements
from monitor.store.models import DeliveryAttempt, ItemText, RetentionMark, StoredHit, StoredItem, StoryPrint

items_t = StoredItem.__table__
hits_t = StoredHit.__table__
texts_t = ItemText.__table__
marks_t = RetentionMark.__table__
attempts_t = DeliveryAttempt.__table__
prints_t = StoryPrint.__table__

Task = Literal["prints", "texts", "hits", "attempts"]
TASKS: tuple[Task, ...] = ("prints", "texts", "hits", "attempts")
BATCH = 2_000  # rows per transaction: a few tens of milliseconds on SQLite


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Cut-offs; None keeps that kind of row forever."""

    texts_before: datetime | None = None
    hits_before: datetime | None = None
    attempts_before: datetime | None = None
    prints_before: datetime | None = None  # the story window's start (`app.retention_policy`)

    def cutoff(self, task: Task) -> datetime | None:
        return {"prints": self.prints_before, "texts": self.texts_before, "hits": self.hits_before,
                "attempts": self.attempts_before}[task]


@dataclass(slots=True)
class RetentionReport:
    texts: int = 0  # texts dropped
    hits: int = 0  # hits deleted
    attempts: int = 0  # delivery attempts deleted
    prints: int = 0  # story prints deleted
    seconds: float = 0.0
    steps: list[tuple[Task, float]] = field(default_factory=list, repr=False)  # each transaction's duration

    @property
    def transactions(self) -> int:
        return len(self.steps)

    @property
    def longest_s(self) -> float:
        """The longest single transaction: how long a writer may have waited."""
        return max((seconds for _, seconds in self.steps), default=0.0)

    def seconds_of(self, task: Task) -> float:
        return sum(seconds for done, seconds in self.steps if done == task)

    def add(self, task: Task, rows: int, seconds: float) -> None:
        setattr(self, task, getattr(self, task) + rows)
        self.steps.append((task, seconds))


class Retention:
    def __init__(self, engine: Engine, *, batch: int = BATCH) -> None:
        self.engine = engine
        self.batch = batch
        self._sql = Statements(engine.dialect.name)

    def step(self, task: Task, cutoff: datetime) -> int:
        """One transaction: up to `batch` rows of `task` older than `cutoff`; 0 when none is left."""
        with self.engine.begin() as conn:
            if task == "prints":
                return self._prints(conn, cutoff)
            if task == "texts":
                return self._texts(conn, cutoff)
            if task == "hits":
                return self._hits(conn, cutoff)
            return self._attempts(conn, cutoff)

    def steps(self, policy: RetentionPolicy, report: RetentionReport) -> Generator[Callable[[], int], int, None]:
        """A run's transactions in order, each handed to the caller to run where it runs
        database work (the daemon: on its database thread, between poll commits), which
        sends back the rows it did. Here is decided which task comes next and when one
        is done; `run` and the daemon only carry the steps out."""
        for task in TASKS:
            cutoff = policy.cutoff(task)
            while cutoff is not None:
                began = time.perf_counter()
                rows = yield partial(self.step, task, cutoff)
                report.add(task, rows, time.perf_counter() - began)
                if rows < self.batch:
                    break

    def run(self, policy: RetentionPolicy) -> RetentionReport:
        """Every step, one after the other, here (the CLI and the benchmark)."""
        report = RetentionReport()
        started = time.perf_counter()
        steps = self.steps(policy, report)
        with suppress(StopIteration):
            step = next(steps)
            while True:
                step = steps.send(step())
        report.seconds = time.perf_counter() - started
        return report

    def _prints(self, conn: Connection, cutoff: datetime) -> int:
        newest = self._newest(conn, cutoff)
        if newest is None:
            return 0
        return self._delete_from_mark(conn, "prints", prints_t.c.item_id, prints_t.c.item_id <= newest)

    def _texts(self, conn: Connection, cutoff: datetime) -> int:
        # Items that matched nothing, in id order from the mark up to the last item stored
        # before the cutoff; from ix_items_unmatched alone.
        newest = self._newest(conn, cutoff)
        if newest is None:
            return 0
        chosen = [r for (r,) in conn.execute(self._unmatched(conn.dialect.name), {
            "mark": self._mark(conn, "texts"), "newest": newest, "batch": self.batch})]
        if not chosen:
            return 0
        conn.execute(delete(texts_t).where(self._sql._in(texts_t.c.item_id, "ids")), {"ids": self._sql.values(chosen)})
        self._move_mark(conn, "texts", chosen[-1])
        return len(chosen)  # items walked: the texts dropped, but for those a `rewind` walks again

    @staticmethod
    def _unmatched(dialect: str) -> TextClause:
        """Unmatched items by id in (mark, newest]. SQLite, left to choose, reads the rows of
        the id range, matched or not: 70,000 texts/s against 99,000 from the index (5 M items)."""
        items, false = ("items INDEXED BY ix_items_unmatched", "0") if dialect == "sqlite" else ("items", "false")
        return text(f"SELECT id FROM {items} WHERE matched IS {false} AND id > :mark AND id <= :newest "
                    "ORDER BY id LIMIT :batch")

    def _hits(self, conn: Connection, cutoff: datetime) -> int:
        newest = self._newest(conn, cutoff)
        if newest is None:
            return 0
        # Item ids grow with ingestion, so the oldest hits come first in ix_hits_item_rule. From
        # the mark's item on: a batch may have ended within that item's hits.
        chosen = conn.execute(
            select(hits_t.c.id, hits_t.c.item_id)
            .where(hits_t.c.item_id >= self._mark(conn, "hits"), hits_t.c.item_id <= newest)
            .order_by(hits_t.c.item_id).limit(self.batch)
        ).all()
        if not chosen:
            return 0
        conn.execute(delete(hits_t).where(self._sql._in(hits_t.c.id, "ids")),
                     {"ids": self._sql.values([r.id for r in chosen])})
        self._move_mark(conn, "hits", chosen[-1].item_id)
        return len(chosen)

    def _attempts(self, conn: Connection, cutoff: datetime) -> int:
        # Ids grow with time: the oldest remaining attempts are the first by id after the mark.
        return self._delete_from_mark(conn, "attempts", attempts_t.c.id, attempts_t.c.at < cutoff)

    def _delete_from_mark(self, conn: Connection, task: Task, key: Any, until: Any) -> int:
        """Delete up to `batch` rows of `key`'s table, in `key` order from the mark on,
        while `until` holds; the mark moves to the last."""
        chosen = [r for (r,) in conn.execute(
            select(key).where(key > self._mark(conn, task), until).order_by(key).limit(self.batch))]
        if not chosen:
            return 0
        conn.execute(delete(key.table).where(self._sql._in(key, "ids")), {"ids": self._sql.values(chosen)})
        self._move_mark(conn, task, chosen[-1])
        return len(chosen)

    @staticmethod
    def _mark(conn: Connection, task: Task) -> int:
        """Where `task` stopped. Without it, PostgreSQL's scan of the oldest rows first steps
        over every row deleted since its last VACUUM: each batch slower than the one before
        (751,000 delivery attempts at 5 M items: 55 s, against 3.5 s from the mark)."""
        return conn.execute(select(marks_t.c.last_id).where(marks_t.c.task == task)).scalar() or 0

    @staticmethod
    def _move_mark(conn: Connection, task: Task, last_id: int) -> None:
        """Forward only: two instances running retention at once both end at the furthest."""
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(marks_t)
        conn.execute(insert.values(task=task, last_id=last_id).on_conflict_do_update(
            index_elements=["task"], set_={"last_id": insert.excluded.last_id},
            where=marks_t.c.last_id < insert.excluded.last_id))

    @staticmethod
    def _newest(conn: Connection, cutoff: datetime) -> int | None:
        """The last item stored before `cutoff`: ids grow with ingestion, so every item
        up to it is older (within the seconds two instances' commits may overlap)."""
        return conn.execute(
            select(items_t.c.id).where(items_t.c.ingested_at < cutoff)
            .order_by(items_t.c.ingested_at.desc()).limit(1)
        ).scalar()


def rewind(conn: Connection, item_id: int) -> None:
    """Let the next retention run walk again from `item_id`: `monitor reclassify` changed
    an item behind the marks, whose text may now go (it no longer matches) and whose
    new hits age out as any others."""
    conn.execute(update(marks_t).where(marks_t.c.task == "texts", marks_t.c.last_id >= item_id)
                 .values(last_id=item_id - 1))
    conn.execute(update(marks_t).where(marks_t.c.task == "hits", marks_t.c.last_id > item_id)
                 .values(last_id=item_id))
