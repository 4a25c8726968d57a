"""Engine creation: the one place that knows SQLite and PostgreSQL differ."""

from __future__ import annotations

import os
import sqlite3
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError

from monitor.store.sqlfunctions import register_sqlite

_verified: weakref.WeakSet[Engine] = weakref.WeakSet()
# quick_check reads every page: 31 s for a 2.2 GB file (a year at 1 M items, bench/year.py). Past
# this size a start checks the header and the schema only, and the full check is the backup's
# (`monitor db backup` checks its copy) or `sqlite3 FILE 'PRAGMA quick_check'` run by hand.
FULL_CHECK_MAX_BYTES = 256 * 1024 * 1024
WAL_AUTOCHECKPOINT_PAGES = 20_000  # 80 MB of log at 4 KB pages
WAL_SIZE_LIMIT = 64 * 1024 * 1024


class DatabaseCorrupt(OperationalError):
    """The SQLite file failed its integrity check (exit 4, like any unusable database)."""


def normalize_url(url: str) -> str:
    """`postgresql://…` means psycopg 3 here; SQLAlchemy would default to psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str, *, busy_timeout_ms: int = 10_000, read_mostly: bool = False, **kwargs: Any
) -> Engine:
    """An engine for `url`. On SQLite, writers take the lock up front (BEGIN
    IMMEDIATE); a `read_mostly` engine (the dashboard) begins deferred, so its
    reads never queue behind the daemon's writes."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No server-side prepared statements: psycopg prepares a query after 5 runs,
        # and PostgreSQL may then keep one generic plan made while `items` was empty
        # (a sequential scan) for the life of the connection, however large the table
        # grows. The duplicate lookups slowed from 0.05 to 15 ms each that way.
        connect_args = {"prepare_threshold": None, **kwargs.pop("connect_args", {})}
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        _private_file(Path(parsed.database))
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # WAL lets the dashboard read while the daemon writes; the busy timeout
        # makes a second writer wait instead of failing at once.
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below run
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # The daemon copies the log into the file on a thread of its own
        # (`checkpoints.py`); this is the backstop for every process, and the log is
        # cut back to 64 MB once it has been copied.
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cur.close()
        register_sqlite(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front, so two processes never
        # deadlock upgrading read locks; pysqlite's own BEGIN is deferred.
        conn.exec_driver_sql("BEGIN" if read_mostly else "BEGIN IMMEDIATE")

    return engine


def _private_file(path: Path) -> None:
    """Create the database's missing directories 0700 and the file itself 0600
    (SQLite would make it 0644 under the usual umask; its -wal and -shm files take
    the database's mode). Existing ones are left as they are."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)  # mkdir's mode is masked by the umask
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


_NOW = {
    "postgresql": "SELECT now()",  # the transaction's start: one instant for the whole claim
    "sqlite": "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')",  # one machine: its clock, read by SQLite
}


def database_now(conn: Connection) -> datetime:
    """The database's clock, as an aware UTC datetime: claims, leases and due times
    are computed from it, so instances whose clocks disagree still agree on who
    holds what and what is due (one code path; only the query differs)."""
    value = conn.exec_driver_sql(_NOW[conn.dialect.name]).scalar_one()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def verify(engine: Engine) -> None:
    """On SQLite, `PRAGMA quick_check` once per engine: a corrupt file must stop a
    start with what to do (DatabaseCorrupt), not start a daemon that fails later.
    A file larger than FULL_CHECK_MAX_BYTES gets the cheap part only (the header,
    the schema), so a year of data starts in a second, not minutes.
    A server database checks itself."""
    if engine.dialect.name != "sqlite" or engine in _verified:
        return
    try:
        with engine.connect() as conn:
            problems = [row[0] for row in conn.exec_driver_sql(_check(engine.url.database)).all()]
    except OperationalError as exc:
        if "malformed" not in str(exc.orig):
            raise  # locked, unreadable, no such directory: not corruption
        problems = [str(exc.orig)]
    except DatabaseError as exc:  # "file is not a database": the header is gone
        problems = [str(exc.orig)]
    if problems != ["ok"]:
        path = engine.url.database
        more = f" and {len(problems) - 1} more problems" if len(problems) > 1 else ""
        raise DatabaseCorrupt("PRAGMA quick_check", None, sqlite3.DatabaseError(
            f"the SQLite file {path} is corrupt ({problems[0]}{more}). Stop every process using it, then "
            f"restore it from a backup, or move it aside to start afresh (a new one is created); "
            f"`sqlite3 {path} .recover` salvages what it can"))
    _verified.add(engine)


def _check(database: str | None) -> str:
    """The integrity check `verify` can afford for this file; each answers 'ok' when sound."""
    try:
        size = Path(database).stat().st_size if database and database != ":memory:" else 0
    except OSError:
        size = 0
    if size <= FULL_CHECK_MAX_BYTES:
        return "PRAGMA quick_check"
    # Reads the header and every table's and index's definition from the schema pages.
    return "SELECT CASE WHEN count(*) >= 0 THEN 'ok' END FROM sqlite_schema"
