"""What an operator asks of the database itself: how big it is (`stats`) and a
consistent copy of it while the daemon runs (`backup`, SQLite only).

The copy is `VACUUM INTO`: SQLite writes it from one read transaction, so it is
the database as of one instant, and in WAL mode a reader never blocks the
daemon's writers (nor they it). PostgreSQL has its own tools for this
(`pg_dump`), which know more than we would.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from monitor.errors import InputError
from monitor.store.engine import _private_file
from monitor.store.models import Alert, DeliveryAttempt, Feed, ItemText, StoredHit, StoredItem, StoryPrint

TABLES = {
    "feeds": Feed.__table__,
    "items": StoredItem.__table__,
    "item_texts": ItemText.__table__,  # one row per item still holding its text
    "story_prints": StoryPrint.__table__,  # one row per item of the story window
    "hits": StoredHit.__table__,
    "alerts": Alert.__table__,
    "delivery_attempts": DeliveryAttempt.__table__,
}
items_t = StoredItem.__table__


@dataclass(frozen=True, slots=True)
class DatabaseStats:
    backend: str
    rows: dict[str, int]
    oldest_item: datetime | None
    newest_item: datetime | None
    size_bytes: int  # the whole database (SQLite: the file and its WAL)
    table_bytes: dict[str, int]  # PostgreSQL: per table, indexes included; SQLite: empty

    @property
    def texts_kept(self) -> int:
        """Items still holding their text (retention drops unmatched ones): one row each."""
        return self.rows["item_texts"]

    def as_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend, "rows": self.rows, "texts_kept": self.texts_kept,
            "oldest_item": self.oldest_item.isoformat() if self.oldest_item else None,
            "newest_item": self.newest_item.isoformat() if self.newest_item else None,
            "size_bytes": self.size_bytes, "table_bytes": self.table_bytes,
        }


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    size_bytes: int
    seconds: float


class BackupRefused(InputError):
    """Not a SQLite database, or the target exists: nothing was written."""


def stats(engine: Engine) -> DatabaseStats:
    with engine.connect() as conn:
        rows = {name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for name, t in TABLES.items()}
        # Two seeks of the ingested_at index, where min()/max() of an aggregate would bypass the type.
        oldest = conn.execute(select(items_t.c.ingested_at).order_by(items_t.c.ingested_at).limit(1)).scalar()
        newest = conn.execute(
            select(items_t.c.ingested_at).order_by(items_t.c.ingested_at.desc()).limit(1)).scalar()
        table_bytes: dict[str, int] = {}
        if engine.dialect.name == "postgresql":
            size = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
            for name in TABLES:
                table_bytes[name] = int(conn.execute(
                    text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": name}).scalar_one())
        else:
            size = _sqlite_bytes(Path(engine.url.database or ""))
    return DatabaseStats(engine.dialect.name, rows, oldest, newest, size, table_bytes)


def _sqlite_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def backup(engine: Engine, target: Path) -> Backup:
    """A consistent copy of the SQLite database at `target` (a new file, mode 0600),
    checked with `PRAGMA quick_check` before it is reported written."""
    if engine.dialect.name != "sqlite":
        raise BackupRefused(
            f"`monitor db backup` copies SQLite databases; this one is {engine.dialect.name}. Use its own "
            f"tool while the daemons run, e.g. `pg_dump --format=custom --file={target} DATABASE_URL` "
            f"(restore with pg_restore)")
    if target.exists():
        raise BackupRefused(f"{target} exists; choose a new file name (a backup never overwrites)")
    if not target.parent.is_dir():
        raise BackupRefused(f"{target.parent} is not a directory")
    began = time.perf_counter()
    _private_file(target)
    try:
        raw = engine.raw_connection()  # no BEGIN from SQLAlchemy: VACUUM cannot run inside a transaction
        try:
            raw.driver_connection.execute("VACUUM INTO ?", (str(target),))  # type: ignore[union-attr]
        finally:
            raw.close()
        check = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        try:
            verdict = [row[0] for row in check.execute("PRAGMA quick_check")]
        finally:
            check.close()
        if verdict != ["ok"]:
            raise RuntimeError(f"the copy failed its check: {verdict[:3]}")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return Backup(target, target.stat().st_size, time.perf_counter() - began)
