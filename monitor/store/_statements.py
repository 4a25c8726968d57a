"""The statements of a batch commit, built once per store with named
parameters: building a statement anew costs SQLAlchemy more than SQLite takes to
run it. Each takes all its values in one parameter (an array on PostgreSQL,
JSON for SQLite's json_each), so the SQL is the same for any batch size."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from functools import cached_property
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite

from monitor.dedupe.fingerprints import NEAR_DUPLICATE_BITS
from monitor.store.models import Alert, ArticleRetry, Feed, ItemText, StoredHit, StoredItem, StoryPrint
from monitor.store.sqlfunctions import hamming

feeds_t = cast(Table, Feed.__table__)
items_t = cast(Table, StoredItem.__table__)
hits_t = cast(Table, StoredHit.__table__)
texts_t = cast(Table, ItemText.__table__)
prints_t = cast(Table, StoryPrint.__table__)
alerts_t = cast(Table, Alert.__table__)
retries_t = cast(Table, ArticleRetry.__table__)
CANDIDATE = (items_t.c.id, items_t.c.duplicate_of, items_t.c.fingerprint, items_t.c.canonical_url,
             items_t.c.content_hash)
BANDS = (prints_t.c.band0, prints_t.c.band1, prints_t.c.band2, prints_t.c.band3)


class Statements:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    @cached_property
    def insert_items(self) -> Any:
        """Built once, so SQLAlchemy reuses the compiled statement. Executed with a
        list of rows it becomes one multi-row INSERT … RETURNING ("insertmanyvalues")."""
        return (self.insert(items_t).on_conflict_do_nothing(index_elements=["feed_id", "guid"])
                .returning(items_t.c.id, items_t.c.feed_id, items_t.c.guid))

    @cached_property
    def insert_hits(self) -> Any:
        return hits_t.insert()

    @cached_property
    def insert_texts(self) -> Any:
        return texts_t.insert()

    @cached_property
    def insert_prints(self) -> Any:
        return prints_t.insert()

    @cached_property
    def replace_text(self) -> Any:
        """An item's text rewritten (its article came later), or written again if retention dropped it."""
        insert = self.insert(texts_t)
        return insert.on_conflict_do_update(index_elements=["item_id"], set_={
            "text": insert.excluded.text, "summary": insert.excluded.summary})

    @cached_property
    def insert_alerts(self) -> Any:
        return (self.insert(alerts_t).on_conflict_do_nothing(index_elements=["item_id", "channel"])
                .returning(alerts_t.c.id, alerts_t.c.item_id, alerts_t.c.channel))

    @cached_property
    def insert_retries(self) -> Any:
        return retries_t.insert()

    @cached_property
    def link_story(self) -> Any:
        return (items_t.update().where(items_t.c.id == bindparam("row_id"))
                .values(duplicate_of=bindparam("root_id")))

    def insert(self, table: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    @cached_property
    def known_guids(self) -> Any:
        """The stored items among (feed id, guid) pairs (see `pairs`): joined pair by
        pair, so each is one probe of the (feed_id, guid) index, whatever the feeds."""
        pairs: Any
        if self.dialect == "postgresql":
            pairs = (func.unnest(bindparam("feed_ids", type_=postgresql.ARRAY(Integer)),
                                 bindparam("guids", type_=postgresql.ARRAY(String)))
                     .table_valued("feed_id", "guid").render_derived("pairs"))
        else:
            value: Any = literal_column("value")
            pairs = (select(func.json_extract(value, literal_column("'$[0]'")).label("feed_id"),
                            func.json_extract(value, literal_column("'$[1]'")).label("guid"))
                     .select_from(func.json_each(bindparam("pairs"))).subquery())
        on = and_(items_t.c.feed_id == pairs.c.feed_id, items_t.c.guid == pairs.c.guid)
        return (select(items_t.c.feed_id, items_t.c.guid, items_t.c.id, items_t.c.duplicate_of)
                .select_from(pairs.join(items_t, on)))

    @cached_property
    def count_new(self) -> Any:
        return (feeds_t.update().where(feeds_t.c.id == bindparam("row_id"))
                .values(items_seen=feeds_t.c.items_seen + bindparam("new", type_=Integer),
                        last_new_item_at=bindparam("at")))

    @cached_property
    def by_url(self) -> Any:
        return select(*CANDIDATE).where(self._in(items_t.c.canonical_url, "urls")).order_by(items_t.c.id)

    @cached_property
    def by_hash(self) -> Any:
        return select(*CANDIDATE).where(self._in(items_t.c.content_hash, "hashes")).order_by(items_t.c.id)

    @cached_property
    def by_band(self) -> Any:
        """Stored items since `since` within NEAR_DUPLICATE_BITS of an item of the batch,
        found in the story window's prints (`StoryPrint`), each through a band it
        shares with that item: one row per (stored item, band number, band value),
        from the (band, simhash) pairs of `band_pairs`. The distance is counted in the
        database, so only real candidates come back. In id order, as every instance
        must judge a new item against the same first story."""
        parts = []
        for n, column in enumerate(BANDS):
            wanted = self._band_pairs(n)
            parts.append(select(literal(n, Integer).label("band_no"), column.label("band"), items_t.c.id,
                                items_t.c.duplicate_of, prints_t.c.fingerprint)
                         .select_from(wanted.join(prints_t, column == wanted.c.band)
                                      .join(items_t, items_t.c.id == prints_t.c.item_id))
                         .where(prints_t.c.ingested_at >= bindparam("since"),
                                hamming(prints_t.c.fingerprint, wanted.c.simhash) <= NEAR_DUPLICATE_BITS))
        return union(*parts).order_by(literal_column("id"), literal_column("band_no"))

    def _band_pairs(self, n: int) -> Any:
        if self.dialect == "postgresql":
            return (func.unnest(bindparam(f"bands{n}", type_=postgresql.ARRAY(Integer)),
                                bindparam(f"simhashes{n}", type_=postgresql.ARRAY(BigInteger)))
                    .table_valued("band", "simhash").render_derived(f"wanted{n}"))
        value: Any = literal_column("value")
        return (select(func.json_extract(value, literal_column("'$[0]'")).label("band"),
                       func.json_extract(value, literal_column("'$[1]'")).label("simhash"))
                .select_from(func.json_each(bindparam(f"pairs{n}"))).subquery(f"wanted{n}"))

    def band_pairs(self, pairs: Sequence[Collection[tuple[int, int]]]) -> dict[str, Any]:
        """The parameters of `by_band`: per band number, its (band value, simhash) pairs."""
        if self.dialect == "postgresql":
            return {key: value for n, part in enumerate(pairs)
                    for key, value in ((f"bands{n}", [b for b, _ in part]), (f"simhashes{n}", [s for _, s in part]))}
        return {f"pairs{n}": json.dumps(list(part)) for n, part in enumerate(pairs)}

    @cached_property
    def by_headline(self) -> Any:
        return (select(items_t.c.id, items_t.c.duplicate_of, items_t.c.fingerprint, items_t.c.headline_key)
                .where(self._in(items_t.c.headline_key, "headlines"), items_t.c.ingested_at >= bindparam("since"))
                .order_by(items_t.c.id))

    @cached_property
    def texts(self) -> Any:
        return select(texts_t.c.item_id, texts_t.c.text).where(self._in(texts_t.c.item_id, "ids"))

    @cached_property
    def lock_stories(self) -> Any:
        """PostgreSQL: take the transaction's advisory locks on `keys` in the array's order."""
        keys = (func.unnest(bindparam("keys", type_=postgresql.ARRAY(BigInteger)))
                .table_valued("key").render_derived())
        return select(func.count(func.pg_advisory_xact_lock(keys.c.key))).select_from(keys)

    def _in(self, column: Any, name: str) -> Any:
        """`column IN (:name)` with all the values in one parameter (see `values`): the
        SQL is the same for any number of values, with no placeholder per value."""
        if self.dialect == "postgresql":
            return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam(name))))

    def values(self, values: Collection[Any]) -> Any:
        """The parameter of an `_in`: an array on PostgreSQL, JSON for SQLite's json_each."""
        return list(values) if self.dialect == "postgresql" else json.dumps(list(values))

    def pairs(self, pairs: Collection[tuple[int, str]]) -> dict[str, Any]:
        """The parameters of `known_guids`: two arrays to unnest, or one JSON list of pairs."""
        if self.dialect == "postgresql":
            return {"feed_ids": [f for f, _ in pairs], "guids": [g for _, g in pairs]}
        return {"pairs": json.dumps(list(pairs))}
