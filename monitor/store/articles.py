"""Articles to fetch again: items stored on the feed's text because their linked
article could not be fetched. When each is due lives here (`next_attempt_at`),
claimed with a lease as feeds are, so any instance may take it up and a
crashed one's claim expires.

`complete` is the later try that succeeded: the item's text becomes the
article, its hits are replaced, and an alert is added for each channel the new
hits call for that has none yet (the unique (item, channel) constraint makes a
second alert impossible, whoever commits first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, delete, func, or_, select, update

from monitor.items import ARTICLE_MISSING, Item, Prepared
from monitor.store._batch import alert_row, hit_rows, print_values, text_row
from monitor.store._statements import Statements, feeds_t, hits_t, items_t, prints_t, retries_t, texts_t
from monitor.store.engine import database_now

__all__ = ["ArticleRetries", "DueArticle", "RetryCounts"]


@dataclass(frozen=True, slots=True)
class DueArticle:
    """A claimed retry: the item as the feed gave it, and the article's URL."""

    item_id: int
    item: Item  # rebuilt from the stored row: the feed's text, before any article
    url: str
    attempts: int  # tries so far
    give_up_at: datetime


@dataclass(frozen=True, slots=True)
class RetryCounts:
    pending: int
    gave_up: int
    last_error: str | None


class ArticleRetries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sql = Statements(engine.dialect.name)

    def claim_due(self, owner: str, lease: timedelta, limit: int, *, now: datetime | None = None) -> list[DueArticle]:
        with self.engine.begin() as conn:
            now = now or database_now(conn)
            due = (select(retries_t.c.item_id)
                   .where(retries_t.c.next_attempt_at <= now,
                          or_(retries_t.c.lease_until.is_(None), retries_t.c.lease_until < now))
                   .order_by(retries_t.c.next_attempt_at).limit(limit))
            if self.engine.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = [r.item_id for r in conn.execute(
                update(retries_t).where(retries_t.c.item_id.in_(due.scalar_subquery()))
                .values(lease_owner=owner, lease_until=now + lease).returning(retries_t.c.item_id))]
            if not ids:
                return []
            rows = conn.execute(
                select(retries_t.c.item_id, retries_t.c.url.label("article_url"), retries_t.c.attempts,
                       retries_t.c.give_up_at, feeds_t.c.url.label("source"), items_t.c.guid, items_t.c.title,
                       texts_t.c.text, items_t.c.url, items_t.c.published_at, items_t.c.language,
                       items_t.c.origin, items_t.c.place, items_t.c.flags)
                .join(items_t, items_t.c.id == retries_t.c.item_id)
                .outerjoin(texts_t, texts_t.c.item_id == retries_t.c.item_id)
                .join(feeds_t, feeds_t.c.id == retries_t.c.feed_id)
                .where(retries_t.c.item_id.in_(ids)).order_by(retries_t.c.item_id)
            ).all()
        return [
            DueArticle(
                r.item_id,
                Item(source=r.source, guid=r.guid, title=r.title, text=r.text or "", url=r.url,
                     published=r.published_at, language=r.language, origin=r.origin, place=r.place,
                     flags=tuple(f for f in r.flags or () if f != ARTICLE_MISSING)),
                r.article_url, r.attempts, r.give_up_at,
            )
            for r in rows
        ]

    def reschedule(self, item_id: int, owner: str, *, error: str, next_attempt_at: datetime | None) -> bool:
        """Another failed try: due again at `next_attempt_at`, or given up (None)."""
        with self.engine.begin() as conn:
            return bool(conn.execute(
                update(retries_t)
                .where(retries_t.c.item_id == item_id, retries_t.c.lease_owner == owner)
                .values(attempts=retries_t.c.attempts + 1, last_error=error, next_attempt_at=next_attempt_at,
                        lease_owner=None, lease_until=None)
            ).rowcount)

    def complete(self, item_id: int, owner: str, prepared: Prepared) -> tuple[int, ...] | None:
        """Store the item as its article reads (see the module docstring); the ids of
        the alerts added. None if our claim was lost (another instance has it)."""
        item, fp = prepared.item, prepared.fingerprint
        with self.engine.begin() as conn:
            held = conn.execute(
                delete(retries_t).where(retries_t.c.item_id == item_id, retries_t.c.lease_owner == owner)
            ).rowcount
            if not held:
                return None
            row = conn.execute(select(items_t.c.duplicate_of).where(items_t.c.id == item_id)).one()
            conn.execute(update(items_t).where(items_t.c.id == item_id).values(
                language=item.language, flags=list(item.flags),
                matched=bool(prepared.hits), rules_version=prepared.rules_version,
                content_hash=fp.content_hash, fingerprint=fp.simhash,
                fp_band0=fp.bands[0], fp_band1=fp.bands[1], fp_band2=fp.bands[2], fp_band3=fp.bands[3],
            ))
            conn.execute(self._sql.replace_text, text_row(item_id, item))
            conn.execute(update(prints_t).where(prints_t.c.item_id == item_id)  # if still in the window
                         .values(print_values(fp)))
            conn.execute(delete(hits_t).where(hits_t.c.item_id == item_id))
            if prepared.hits:
                conn.execute(self._sql.insert_hits, hit_rows(item_id, prepared.hits))
            if row.duplicate_of is not None or not prepared.alerts:
                return ()  # a repeat of a story: the story's first item owns the alerts
            now = database_now(conn)
            rows = {request.channel: alert_row(item_id, item, request, now) for request in prepared.alerts}
            return tuple(r.id for r in conn.execute(self._sql.insert_alerts, list(rows.values())))

    def counts(self) -> dict[int, RetryCounts]:
        """Per feed id: articles still to fetch, articles given up on, and the latest error."""
        pending = func.sum(case((retries_t.c.next_attempt_at.is_not(None), 1), else_=0))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(retries_t.c.feed_id, func.count().label("total"), pending.label("pending"),
                       func.max(retries_t.c.last_error).label("error"))
                .group_by(retries_t.c.feed_id)
            ).all()
        return {r.feed_id: RetryCounts(int(r.pending or 0), int(r.total) - int(r.pending or 0), r.error) for r in rows}

    def pending(self) -> Sequence[int]:
        """Item ids whose article is still to be fetched (tests, `monitor feeds`)."""
        with self.engine.connect() as conn:
            return [r.item_id for r in conn.execute(
                select(retries_t.c.item_id).where(retries_t.c.next_attempt_at.is_not(None))
                .order_by(retries_t.c.item_id))]
