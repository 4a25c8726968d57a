"""Stored items read back for classification (`monitor rules test`, `monitor
reclassify`) and the reclassification's writes; and the rules versions.

Items are read in id order, a bounded batch at a time (keyset pagination: each
batch is one query starting after the last id), so memory stays flat however
many items are stored. Only items whose text is still kept are read.

Many items are read in ranges of ids (`ranges`) that worker processes read
themselves, each with its own connection: first only what classification reads
(`texts`), then, for the few items a command shows or writes, all of it
(`entries`).
Each batch a reclassification writes is one transaction that also advances
its run's cursor: a run killed at any point resumes after its last batch, and
a batch is never applied twice.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, and_, bindparam, exists, func, select

from monitor.items import AlertRequest, Hit, Item
from monitor.states import AlertState
from monitor.store._batch import alert_row, hit_rows
from monitor.store._statements import Statements, alerts_t, feeds_t, hits_t, items_t, texts_t
from monitor.store.models import ReclassifyRun, RulesVersionRow
from monitor.store.retention import rewind

versions_t = RulesVersionRow.__table__
runs_t = ReclassifyRun.__table__
HAS_TEXT = exists().where(texts_t.c.item_id == items_t.c.id).correlate_except(texts_t)  # not dropped by retention

BATCH = 1_000  # items per read (and per reclassify transaction)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A stored item as classification sees it, with the hits stored for it."""

    id: int
    item: Item  # source: the feed's title or URL, as a reader names it
    hits: tuple[Hit, ...]
    story_id: int | None  # the first item of its story when it repeats one
    relevance: str | None
    rules_version: str | None


class StoredText(NamedTuple):
    """What classification reads of a stored item (title, text, language: what
    `Pipeline.scan` needs), with its stored hits; a tuple, many times cheaper to
    read than a whole `StoredEntry`."""

    id: int
    title: str
    text: str
    language: str | None
    hits: tuple[Hit, ...]


class Span(NamedTuple):
    """The items after `after_id` up to `last_id` (an item's id) that a read selects."""

    after_id: int
    last_id: int


@dataclass(frozen=True, slots=True)
class Change:
    """What a reclassification writes for one item whose hits changed."""

    item_id: int
    hits: Sequence[Hit]
    note: str  # what changed, and under which rules version
    alerts: Sequence[AlertRequest] = ()  # with `--alert` only
    item: Item | None = None  # for the alerts' idempotency keys


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    last_item_id: int
    resumed: bool


class StoredItems:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sql = Statements(engine.dialect.name)

    # reading -----------------------------------------------------------------

    def count(self, since: datetime | None, *, after_id: int = 0, stories: bool = False) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items_t)
                                    .where(*self._where(since, after_id, stories))).scalar_one())

    def batches(
        self, since: datetime | None, *, after_id: int = 0, stories: bool = False, size: int = BATCH
    ) -> Iterator[list[StoredEntry]]:
        """Items stored since `since` (None: all) with text, after `after_id`, in id
        order; with `stories`, only the first item of each story (not its copies)."""
        while True:
            with self.engine.connect() as conn:
                batch = self._read(conn, self._where(since, after_id, stories), size)
            if not batch:
                return
            yield batch
            after_id = batch[-1].id

    def ranges(
        self, since: datetime | None, *, after_id: int = 0, stories: bool = False, size: int = BATCH
    ) -> Iterator[Span]:
        """Consecutive spans of `size` selected items (the last one: the rest), in id
        order, found by reading ids only: what each worker then reads (`texts`)."""
        while True:
            with self.engine.connect() as conn:
                where = self._where(since, after_id, stories)
                last = conn.execute(select(items_t.c.id).where(*where).order_by(items_t.c.id)
                                    .limit(1).offset(size - 1)).scalar()
                if last is None:
                    last = conn.execute(select(func.max(items_t.c.id)).where(*where)).scalar()
            if last is None:
                return
            yield Span(after_id, last)
            after_id = last

    def texts(self, span: Span, since: datetime | None, *, stories: bool = False) -> list[StoredText]:
        """The selected items of `span`, as classification reads them, with their hits."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items_t.c.id, items_t.c.title, texts_t.c.text, items_t.c.language)
                .join(texts_t, texts_t.c.item_id == items_t.c.id)
                .where(items_t.c.id <= span.last_id,
                       *self._where(since, span.after_id, stories, text_joined=True))
                .order_by(items_t.c.id)
            ).all()
            if not rows:
                return []
            hits = self._hits(conn, rows[0].id, rows[-1].id)
        return [StoredText(item_id, title, text, language, tuple(hits[item_id]) if item_id in hits else ())
                for item_id, title, text, language in rows]

    def entries(self, ids: Sequence[int]) -> dict[int, StoredEntry]:
        """Whole stored items by id (those a command shows or writes), with their hits."""
        found: dict[int, StoredEntry] = {}
        ordered = sorted(set(ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ordered), BATCH):
                chunk = ordered[start : start + BATCH]
                where = [self._sql._in(items_t.c.id, "ids")]
                for entry in self._read(conn, where, len(chunk), {"ids": self._sql.values(chunk)}):
                    found[entry.id] = entry
        return found

    def _where(
        self, since: datetime | None, after_id: int, stories: bool, *, text_joined: bool = False
    ) -> list[Any]:
        """The selected items; those with a text, unless the query joins `item_texts` already."""
        conds = [items_t.c.id > after_id] if text_joined else [items_t.c.id > after_id, HAS_TEXT]
        if since is not None:
            conds.append(items_t.c.ingested_at >= since)
        if stories:
            conds.append(items_t.c.duplicate_of.is_(None))
        return conds

    def _read(
        self, conn: Connection, where: list[Any], size: int, params: Mapping[str, Any] | None = None
    ) -> list[StoredEntry]:
        rows = conn.execute(
            select(items_t.c.id, items_t.c.guid, items_t.c.title, texts_t.c.text, items_t.c.url,
                   items_t.c.published_at, items_t.c.ingested_at, items_t.c.language, items_t.c.origin,
                   items_t.c.place, items_t.c.duplicate_of, items_t.c.relevance, items_t.c.rules_version,
                   feeds_t.c.url.label("feed_url"), feeds_t.c.title.label("feed_title"))
            .select_from(items_t.join(feeds_t, items_t.c.feed_id == feeds_t.c.id)
                         .outerjoin(texts_t, texts_t.c.item_id == items_t.c.id))
            .where(*where).order_by(items_t.c.id).limit(size), dict(params or {})
        ).all()
        if not rows:
            return []
        hits = self._hits(conn, rows[0].id, rows[-1].id, params)
        return [
            StoredEntry(
                id=r.id,
                item=Item(source=r.feed_url, guid=r.guid, title=r.title, text=r.text, url=r.url,
                          published=r.published_at or r.ingested_at, language=r.language,
                          origin=r.origin or r.feed_title, place=r.place),
                hits=tuple(hits.get(r.id, ())), story_id=r.duplicate_of, relevance=r.relevance,
                rules_version=r.rules_version,
            )
            for r in rows
        ]

    def _hits(
        self, conn: Connection, first_id: int, last_id: int, params: Mapping[str, Any] | None = None
    ) -> dict[int, list[Hit]]:
        """The stored hits of the items `first_id`..`last_id` (with `params`, only
        those of its "ids"), per item, in order."""
        where = [hits_t.c.item_id.between(first_id, last_id)]
        if params:
            where.append(self._sql._in(hits_t.c.item_id, "ids"))
        hits: dict[int, list[Hit]] = defaultdict(list)
        for h in conn.execute(select(hits_t.c.item_id, hits_t.c.rule, hits_t.c.term, hits_t.c.field, hits_t.c.start,
                                     hits_t.c.end, hits_t.c.matched)
                              .where(*where).order_by(hits_t.c.item_id, hits_t.c.id), dict(params or {})):
            hits[h.item_id].append(Hit(h.rule, h.term, h.field, h.start, h.end, h.matched))
        return hits

    # reclassify runs -----------------------------------------------------------

    def start_run(self, key: str, rules_version: str) -> Run:
        """The unfinished run with this key (a run interrupted), else a new one."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self.engine.begin() as conn:
            found = conn.execute(
                select(runs_t.c.id, runs_t.c.last_item_id)
                .where(runs_t.c.key == digest, runs_t.c.finished_at.is_(None)).order_by(runs_t.c.id.desc())
            ).first()
            if found is not None:
                return Run(found.id, found.last_item_id, True)
            run_id = conn.execute(runs_t.insert().values(
                key=digest, rules_version=rules_version, started_at=datetime.now(UTC), last_item_id=0,
                scanned=0, changed=0,
            ).returning(runs_t.c.id)).scalar_one()
        return Run(int(run_id), 0, False)

    def finish_run(self, run_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(runs_t.update().where(runs_t.c.id == run_id).values(finished_at=datetime.now(UTC)))

    def apply(
        self, run_id: int, changes: Sequence[Change], *, first_id: int, last_id: int, scanned: int,
        since: datetime | None, rules_version: str | None,
    ) -> int:
        """Write one batch's changes and move the run's cursor to `last_id`, in one
        transaction; the alerts inserted (ON CONFLICT DO NOTHING: exactly once).

        `rules_version` (a full run, not one limited to a rule): every item of the
        batch records it, changed or not."""
        now = datetime.now(UTC)
        inserted = 0
        with self.engine.begin() as conn:
            if changes:
                ids = [c.item_id for c in changes]
                conn.execute(hits_t.delete().where(self._sql._in(hits_t.c.item_id, "ids")),
                             {"ids": self._sql.values(ids)})
                rows = [row for c in changes for row in hit_rows(c.item_id, c.hits)]
                if rows:
                    conn.execute(hits_t.insert(), rows)
                conn.execute(
                    items_t.update().where(items_t.c.id == bindparam("row_id"))
                    .values(matched=bindparam("now_matched"), reclassified_at=now,
                            reclassified_note=bindparam("note")),
                    [{"row_id": c.item_id, "now_matched": bool(c.hits), "note": c.note} for c in changes],
                )
                rewind(conn, min(ids))  # retention walks these items again
                ended = [c.item_id for c in changes if not c.hits]
                if ended:  # not sent yet, and no longer a match: they must not go out
                    conn.execute(
                        alerts_t.update()
                        .where(self._sql._in(alerts_t.c.item_id, "ended"), alerts_t.c.state == AlertState.PENDING)
                        .values(state=AlertState.SUPPRESSED, last_error="no longer matches the rules (reclassified)"),
                        {"ended": self._sql.values(ended)},
                    )
                inserted = self._alerts(conn, changes, now)
            if rules_version is not None:  # rows that have it already are not rewritten
                conds = [items_t.c.id.between(first_id, last_id), HAS_TEXT,
                         items_t.c.rules_version.is_distinct_from(rules_version)]
                if since is not None:
                    conds.append(items_t.c.ingested_at >= since)
                conn.execute(items_t.update().where(and_(*conds)).values(rules_version=rules_version))
            conn.execute(runs_t.update().where(runs_t.c.id == run_id).values(
                last_item_id=last_id, scanned=runs_t.c.scanned + scanned, changed=runs_t.c.changed + len(changes)))
        return inserted

    def _alerts(self, conn: Connection, changes: Sequence[Change], now: datetime) -> int:
        rows = [alert_row(c.item_id, c.item, r, now) for c in changes if c.item is not None for r in c.alerts]
        if not rows:
            return 0
        return len(conn.execute(self._sql.insert_alerts, rows).all())


class RulesVersions:
    """The rules versions seen, and which one came before."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sql = Statements(engine.dialect.name)

    def record(self, version_id: str, rules: Mapping[str, str], files: Sequence[tuple[str, str]]) -> Mapping[str, str] | None:
        """Record a version (once: `monitor.rules.version.RulesVersion`); the
        per-rule digests of the newest version recorded before this call (None:
        the first version this database sees; the same rules when nothing changed)."""
        with self.engine.begin() as conn:
            newest = conn.execute(
                select(versions_t.c.id, versions_t.c.rules).order_by(versions_t.c.first_seen_at.desc()).limit(1)
            ).first()
            if newest is None or newest.id != version_id:
                conn.execute(self._sql.insert(versions_t).values(
                    id=version_id, first_seen_at=datetime.now(UTC), rules=dict(rules), files=[list(f) for f in files],
                ).on_conflict_do_update(index_elements=["id"], set_={"first_seen_at": datetime.now(UTC)}))
        return None if newest is None else dict(newest.rules)

    def files(self, version_id: str) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            files = conn.execute(select(versions_t.c.files).where(versions_t.c.id == version_id)).scalar()
        return [(f[0], f[1]) for f in files or []]
