"""The typed storage API the pipeline and the CLI use; no SQL leaves the store.

`ingest` is the heart of it: the duplicate checks, the item, its hits and its
outbox rows happen in one transaction, so a crash never leaves a match without
its alert or an alert without its match. Inserts use ON CONFLICT DO NOTHING, so
two processes racing on the same entry store it once and both see the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, Engine, func, select

from monitor.items import Hit, Outcome, Prepared, SourceBatch
from monitor.store._batch import Batch, distinct_feeds
from monitor.store._statements import Statements, alerts_t, feeds_t, hits_t, items_t

__all__ = ["Store"]


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sql = Statements(engine.dialect.name)
        self._feed_ids: dict[str, int] = {}

    def _feed_ids_of(self, conn: Connection, urls: Sequence[str]) -> dict[str, int]:
        """The ids of the feeds with these URLs, created on first use. The caller
        remembers them once its transaction commits: feed rows are never deleted, so
        a committed id never goes stale, but one created in a transaction rolled back
        (a dry run, a failed group) would."""
        ids: dict[str, int] = {}
        for url in urls:
            if url not in ids:
                known = self._feed_ids.get(url)
                ids[url] = known if known is not None else self._feed_id(conn, url)
        return ids

    def _feed_id(self, conn: Connection, url: str) -> int:
        found = conn.execute(select(feeds_t.c.id).where(feeds_t.c.url == url)).scalar()
        if found is not None:
            return int(found)
        conn.execute(
            self._sql.insert(feeds_t)
            .values(url=url, kind="replay" if url.startswith("replay:") else "http",
                    enabled=True, consecutive_errors=0, items_seen=0, created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["url"])
        )
        return int(conn.execute(select(feeds_t.c.id).where(feeds_t.c.url == url)).scalar_one())

    # items ---------------------------------------------------------------

    def ingest(
        self, source: str, batch: Sequence[Prepared], *, dry_run: bool = False
    ) -> list[Outcome]:
        """Store a batch of items from one source in one transaction (see `ingest_many`)."""
        return self.ingest_many([(source, batch)], dry_run=dry_run)[0]

    def ingest_many(
        self, batches: Sequence[SourceBatch], *, dry_run: bool = False
    ) -> list[list[Outcome]]:
        """Store the batches of several sources in one transaction: their outcomes,
        batch by batch, are exactly those of storing the batches one after the other.

        The duplicate checks are a handful of set queries for all the batches,
        not a round of queries per item: feeds that changed nothing cost one
        SELECT. Storing several feeds at once spreads the fixed cost of a
        transaction and of each statement over all their items. With `dry_run` the
        same statements run and are rolled back, so the outcomes (new or seen, and
        why) are exactly what a real run would say.
        """
        with self.engine.connect() as conn, conn.begin() as tx:
            ids = self._feed_ids_of(conn, [source for source, _ in batches])
            feeds = [(ids[source], batch) for source, batch in batches]
            outcomes = [o for group in distinct_feeds(feeds) for o in Batch(self._sql, conn, group).run()]
            self._count_new(conn, [(feed_id, sum(1 for o in of_feed if o.item_id is not None))
                                   for (feed_id, _), of_feed in zip(feeds, outcomes, strict=True)])
            if dry_run:
                tx.rollback()
        if not dry_run:
            self._feed_ids.update(ids)
        return outcomes

    def unseen(self, source: str, guids: Sequence[str]) -> set[str]:
        """The guids of `source` not stored yet: the entries whose article is worth fetching."""
        with self.engine.connect() as conn:
            feed_id = conn.execute(select(feeds_t.c.id).where(feeds_t.c.url == source)).scalar()
            if feed_id is None or not guids:
                return set(guids)
            rows = conn.execute(self._sql.known_guids, self._sql.pairs({(int(feed_id), g) for g in guids}))
            return set(guids) - {r.guid for r in rows}

    def _count_new(self, conn: Connection, counts: Sequence[tuple[int, int]]) -> None:
        """Add each feed's new items to its `items_seen` (one statement for all)."""
        rows = [{"row_id": feed_id, "new": new, "at": datetime.now(UTC)} for feed_id, new in counts if new]
        if rows:
            conn.execute(self._sql.count_new, rows)

    def prune_unmatched_text(self, older_than: datetime) -> int:
        """Drop the text of old items that matched nothing. Guid, canonical URL and
        fingerprints stay, so dedupe still recognises them; matches are kept whole.
        In batches of short transactions (`monitor.store.retention`)."""
        from monitor.store.retention import Retention, RetentionPolicy

        return Retention(self.engine).run(RetentionPolicy(texts_before=older_than)).texts

    # reading ---------------------------------------------------------------

    def count(self, table: Literal["items", "hits", "alerts", "feeds"]) -> int:
        t = {"items": items_t, "hits": hits_t, "alerts": alerts_t, "feeds": feeds_t}[table]
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t)).scalar_one())

    def hits_of(self, item_id: int) -> list[Hit]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(hits_t).where(hits_t.c.item_id == item_id).order_by(hits_t.c.id)
            ).all()
        return [Hit(r.rule, r.term, r.field, r.start, r.end, r.matched) for r in rows]
