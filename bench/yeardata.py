"""A year of data: fills a database with N items shaped like a real installation's
(`python -m bench.yeardata URL --items 1000000`), on SQLite or PostgreSQL.

What a year looks like here: 2,000 sources, some far busier than others; items
ingested evenly over the 365 days before now, each published a few minutes
before it was first seen; one story in ten matching the default rule pack, with
its hits; about 6 % of items copies of a story another source carried in the
hours before (half word for word, half edited: a SimHash a few bits away); 2 %
of matches marked not relevant; one alert per match and channel in every
state (sent, dead, pending, digested, suppressed), digest messages, and the
delivery attempts behind them. Every item keeps its text (`item_texts`; the
worst case: a database whose retention never ran), so the retention benchmark
has a year to prune.

Texts come from a pool of `bench.corpus` items (generating 5 M distinct texts
would take longer than storing them); each stored item still gets a content hash
and a SimHash of its own (random 64 bits: uniformly spread bands, the kindest
case for the band lookups; real SimHashes cluster more), and the hits of a
matching item are the default pack's real hits in its text.

The schema is the daemon's own (`monitor.store.migrations.upgrade`). On SQLite the
indexes stay in place during the load, so their pages fill as a live database's
do: an index made by CREATE INDEX packs every leaf full, and the first cycle
after it splits nearly each leaf it touches (200 new items wrote 5,132 pages
into a packed 1 M-item file, 1,707 into one grown row by row), which no
installation a year old sees. On PostgreSQL the secondary indexes are dropped
during the load and re-created afterwards (its CREATE INDEX leaves a tenth of
each leaf free). Rows go in with `executemany` in large transactions on SQLite
and `COPY` on PostgreSQL.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bench.corpus import DEFAULT_RULES, PressWriter
from monitor.dedupe import STORY_WINDOW
from monitor.items import Hit, Item
from monitor.store.engine import make_engine
from monitor.store.migrations import upgrade

CHUNK = 50_000  # items per generated chunk (and per SQLite transaction)
POOL = 2_000  # distinct texts of each kind (plain, matching)
DAY = 86_400.0

ITEM_COLUMNS = ("id", "feed_id", "guid", "url", "canonical_url", "title", "published_at", "ingested_at",
                "language", "origin", "place", "path", "flags", "content_hash", "fingerprint", "fp_band0",
                "fp_band1", "fp_band2", "fp_band3", "duplicate_of", "matched", "delay_s", "relevance",
                "labelled_at")
TEXT_COLUMNS = ("item_id", "text")
PRINT_COLUMNS = ("item_id", "ingested_at", "fingerprint", "band0", "band1", "band2", "band3")
HIT_COLUMNS = ("item_id", "rule", "term", "field", "start", "end", "matched")
ALERT_COLUMNS = ("id", "kind", "item_id", "digest_id", "channel", "mode", "rules", "idempotency_key", "state",
                 "attempts", "next_attempt_at", "lease_owner", "lease_until", "created_at", "period_start",
                 "sent_at", "last_error")
ATTEMPT_COLUMNS = ("alert_id", "at", "ok", "status", "error", "duration_ms")
FEED_COLUMNS = ("id", "url", "kind", "listed_in", "title", "enabled", "next_poll_at", "interval_s", "stale",
                "last_polled_at", "last_success_at", "last_new_item_at", "consecutive_errors", "items_seen",
                "created_at", "publish_gap_s")
IMMEDIATE_CHANNELS = ("analysts", "ops-webhook")
DIGEST_CHANNEL = "daily-digest"


@dataclass(frozen=True, slots=True)
class Shape:
    items: int
    feeds: int = 2_000
    days: int = 365
    matched: float = 0.10  # of stories
    copies: float = 0.06  # of items: another source's copy of a recent story
    marked: float = 0.02  # of matching stories: not relevant
    seed: int = 16

    def feed_count(self) -> int:
        return max(1, min(self.feeds, self.items // 50 or 1))


@dataclass(frozen=True, slots=True)
class Text:
    title: str
    text: str
    hits: tuple[Hit, ...]


@functools.cache
def text_pool(seed: int) -> tuple[list[Text], list[Text]]:
    """Plain and matching texts, the matching ones with the default pack's real hits."""
    from monitor.rules.loading import load_rules
    from monitor.rules.matcher import compile_rules

    matcher = compile_rules(load_rules([DEFAULT_RULES]))
    writer = PressWriter(seed)
    plain: list[Text] = []
    matching: list[Text] = []
    serial = 0
    while len(plain) < POOL or len(matching) < POOL:
        item = writer.item(serial, mentions=len(matching) < POOL and serial % 2 == 0)
        serial += 1
        hits = tuple(matcher.scan(Item("pool", item.guid, item.title, item.text)))
        target = matching if hits else plain
        if len(target) < POOL:
            target.append(Text(item.title, item.text, hits))
    return plain, matching


@dataclass
class Rows:
    items: list[tuple[Any, ...]] = field(default_factory=list)
    texts: list[tuple[Any, ...]] = field(default_factory=list)
    prints: list[tuple[Any, ...]] = field(default_factory=list)  # the story window's items
    hits: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    attempts: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(slots=True)
class _Story:
    id: int
    content_hash: str
    simhash: int
    text: Text
    matched: bool


class Generator:
    """Deterministic rows for `shape`, chunk by chunk, in id order (ids follow ingestion)."""

    def __init__(self, shape: Shape, now: datetime) -> None:
        self.shape = shape
        self.rng = random.Random(shape.seed)
        self.start = now - timedelta(days=shape.days)
        self.now = now
        self.plain, self.matching = text_pool(shape.seed)
        feeds = shape.feed_count()
        # Zipf-like: a few agencies publish hundreds a day, most sources a few.
        weights = [1 / (rank + 1) ** 0.8 for rank in range(feeds)]
        total = sum(weights)
        self.cumulative = list(_accumulate([w / total for w in weights]))
        self.recent: list[_Story] = []  # stories of the last few hours, copied by other sources
        self.alert_id = 0
        self.digest_of_day: dict[int, int] = {}

    def feed_rows(self) -> list[tuple[Any, ...]]:
        now, start, feeds = self.now, self.start, self.shape.feed_count()
        per_feed = self.shape.items / feeds
        return [
            (n, feed_url(n), "http", "monitor.toml", f"Source {n}", True, now + timedelta(seconds=n % 300), 300,
             False, now, now, now, 0, int(per_feed * 1.2 / (1 + n) ** 0.8) if self.shape.items else 0, start,
             3600.0)
            for n in range(1, feeds + 1)
        ]

    def chunks(self) -> Iterator[Rows]:
        for first in range(1, self.shape.items + 1, CHUNK):
            yield self.chunk(first, min(CHUNK, self.shape.items + 1 - first))

    def chunk(self, first: int, count: int) -> Rows:
        rows, rng, shape = Rows(), self.rng, self.shape
        span = shape.days * DAY
        for item_id in range(first, first + count):
            at = self.start + timedelta(seconds=span * (item_id - 0.5) / shape.items)
            feed_id = bisect.bisect_left(self.cumulative, rng.random()) + 1
            copy_of = rng.choice(self.recent) if self.recent and rng.random() < shape.copies else None
            if copy_of is None:
                matched = rng.random() < shape.matched
                text = rng.choice(self.matching if matched else self.plain)
                story = _Story(item_id, hashlib.sha256(b"%d" % item_id).hexdigest(), rng.getrandbits(64), text,
                               matched)
                self.recent.append(story)
                if len(self.recent) > 500:
                    self.recent.pop(0)
                content_hash, simhash, root = story.content_hash, story.simhash, None
            else:
                story, root = copy_of, copy_of.id
                if rng.random() < 0.5:  # word for word
                    content_hash, simhash = story.content_hash, story.simhash
                else:  # edited: another hash, a SimHash within the near-duplicate distance
                    content_hash = hashlib.sha256(b"e%d" % item_id).hexdigest()
                    simhash = story.simhash ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64))
            delay = rng.expovariate(1 / 600)
            signed = simhash - (1 << 64) if simhash >= 1 << 63 else simhash
            bands = tuple((simhash >> shift) & 0xFFFF for shift in (0, 16, 32, 48))
            marked = story.matched and root is None and rng.random() < shape.marked
            url = f"https://source-{feed_id}.example/news/{item_id}"
            rows.items.append((
                item_id, feed_id, f"y-{item_id}", url, url, story.text.title,
                at - timedelta(seconds=delay), at, "en", None, None, None, "[]", content_hash, signed, *bands,
                root, story.matched, delay if rng.random() < 0.8 else None,
                "not-relevant" if marked else None, at + timedelta(hours=2) if marked else None,
            ))
            rows.texts.append((item_id, story.text.text))
            if self.now - at < STORY_WINDOW:
                rows.prints.append((item_id, at, signed, *bands))
            rows.hits.extend((item_id, h.rule, h.term, h.field, h.start, h.end, h.matched) for h in story.text.hits)
            if story.matched and root is None:
                self._alerts(rows, item_id, at, story.text.hits, marked)
        return rows

    def _alerts(self, rows: Rows, item_id: int, at: datetime, hits: Sequence[Hit], marked: bool) -> None:
        rng = self.rng
        rules = json.dumps(sorted({h.rule for h in hits}))
        recent = (self.now - at).total_seconds() < 3600
        for channel in IMMEDIATE_CHANNELS:
            self.alert_id += 1
            if marked:
                state, attempts = "suppressed", 0
            elif recent:
                state, attempts = "pending", 0
            else:
                state = "dead" if rng.random() < 0.02 else "sent"
                attempts = 5 if state == "dead" else 1
            sent = at + timedelta(seconds=2) if state == "sent" else None
            rows.alerts.append((
                self.alert_id, "item", item_id, None, channel, "immediate", rules, f"msg_y{self.alert_id:030d}",
                state, attempts, at if state == "pending" else None, None, None, at, None, sent,
                "HTTP 500" if state == "dead" else None,
            ))
            for n in range(attempts):
                ok = state == "sent"
                rows.attempts.append((self.alert_id, at + timedelta(seconds=2 + 60 * n), ok,
                                      "250" if ok else "500", None if ok else "HTTP 500", 120))
        day = int((at - self.start).total_seconds() // DAY)
        digest = self.digest_of_day.get(day)
        today = (self.now - at).total_seconds() < DAY
        if digest is None and not today:
            self.alert_id += 1
            digest = self.digest_of_day[day] = self.alert_id
            rows.alerts.append((
                digest, "digest", None, None, DIGEST_CHANNEL, "digest", "[]", f"msg_y{digest:030d}", "sent", 1,
                None, None, None, at, at, at + timedelta(days=1), None,
            ))
            rows.attempts.append((digest, at + timedelta(days=1), True, "250", None, 300))
        self.alert_id += 1
        state = "suppressed" if marked else ("pending" if today else "sent")
        rows.alerts.append((
            self.alert_id, "item", item_id, None if today else digest, DIGEST_CHANNEL, "digest", rules,
            f"msg_y{self.alert_id:030d}", state, 0, None, None, None, at, None,
            at + timedelta(days=1) if state == "sent" else None, None,
        ))


def feed_url(n: int) -> str:
    return f"https://source-{n}.example/feed.xml"


def _accumulate(values: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


# loading ------------------------------------------------------------------------------------------


def generate(url: str, shape: Shape, *, now: datetime | None = None,
             progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Fill the (empty or new) database at `url`; what was written and how long it took."""
    now = now or datetime.now(UTC)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()  # the loader below uses a connection of its own
    started = time.perf_counter()
    generator = Generator(shape, now)
    counts = {"items": 0, "hits": 0, "alerts": 0, "delivery_attempts": 0}
    loader = _SqliteLoader(engine) if engine.dialect.name == "sqlite" else _PostgresLoader(engine)
    with loader:
        loader.write("feeds", FEED_COLUMNS, generator.feed_rows())
        for rows in generator.chunks():
            loader.write("items", ITEM_COLUMNS, rows.items)
            loader.write("item_texts", TEXT_COLUMNS, rows.texts)
            loader.write("story_prints", PRINT_COLUMNS, rows.prints)
            loader.write("hits", HIT_COLUMNS, rows.hits)
            loader.write("alerts", ALERT_COLUMNS, rows.alerts)
            loader.write("delivery_attempts", ATTEMPT_COLUMNS, rows.attempts)
            loader.commit()
            for name, part in (("items", rows.items), ("hits", rows.hits), ("alerts", rows.alerts),
                               ("delivery_attempts", rows.attempts)):
                counts[name] += len(part)
            progress(f"yeardata: {counts['items']:,} of {shape.items:,} items "
                     f"({counts['items'] / (time.perf_counter() - started):,.0f}/s)")
        loaded = time.perf_counter()
        progress("yeardata: indexes (PostgreSQL) and statistics")
    engine.dispose()
    finished = time.perf_counter()
    return {**counts, "load_s": loaded - started, "index_s": finished - loaded, "seconds": finished - started}


class _SqliteLoader:
    """executemany in one transaction per chunk, into the indexes (see the module's docstring)."""

    def __init__(self, engine: Engine) -> None:
        import sqlite3

        assert engine.url.database
        self.conn = sqlite3.connect(engine.url.database, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")  # a failed load is thrown away anyway
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-1000000")  # 1 GB: the indexes' hot pages, as they grow

    def __enter__(self) -> _SqliteLoader:
        self.conn.execute("BEGIN")
        return self

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                              [tuple(_sqlite_value(v) for v in row) for row in rows])

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA journal_mode=WAL")  # what the daemon sets
        self.conn.close()


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy's SQLite dialect stores: naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff', 0/1."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


class _PostgresLoader:
    """COPY per chunk; secondary (non-constraint) indexes dropped meanwhile; sequences set after."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.raw: Any = engine.raw_connection()
        self.conn: Any = self.raw.driver_connection
        self.indexes: list[tuple[str, str]] = []

    def __enter__(self) -> _PostgresLoader:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                "AND i.tablename IN ('items', 'hits', 'alerts', 'delivery_attempts') AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)")
            self.indexes = list(cur.fetchall())
            for name, _ in self.indexes:
                cur.execute(f'DROP INDEX "{name}"')
        self.conn.commit()
        return self

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        with self.conn.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.conn.commit()

    def __exit__(self, *exc: object) -> None:
        self.conn.commit()
        with self.conn.cursor() as cur:
            for _, sql in self.indexes:
                cur.execute(sql)
            for table in ("feeds", "items", "hits", "alerts", "delivery_attempts"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM \"{table}\"), false)")
        self.conn.commit()
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        self.raw.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="database URL (sqlite:///path or postgresql://...), empty or new")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    result = generate(args.url, Shape(args.items, feeds=args.feeds, seed=args.seed),
                      progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
