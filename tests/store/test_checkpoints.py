"""Checkpointer: the daemon's commits reach the SQLite file without its writer
thread stopping to copy them there."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from io import StringIO
from pathlib import Path

from sqlalchemy import Engine, text

from monitor import logs
from monitor.store.checkpoints import Checkpointer
from monitor.store.engine import make_engine


def _write_rows(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)"))
    for n in range(count):  # one commit each, as the daemon's polls commit
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": f"note {n} " * 50})


def _rows_in_file_alone(path: Path, tmp_path: Path) -> int:
    """What the database file holds without its write-ahead log (a copy of the file only)."""
    copy = tmp_path / "file-only.db"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM notes").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself is still in the log
            return 0


def _wait_for_passes(checkpointer: Checkpointer, passes: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while checkpointer.passes < passes and time.monotonic() < deadline:
        time.sleep(0.05)


def test_commits_reach_the_file_while_the_writer_never_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        _write_rows(engine, 200)  # far below the writers' own checkpoint threshold
        assert _rows_in_file_alone(path, tmp_path) == 0, "the writer checkpointed by itself: this test shows nothing"

        checkpointer = Checkpointer.for_engine(engine)
        assert checkpointer is not None
        try:
            _wait_for_passes(checkpointer, 1)
            assert _rows_in_file_alone(path, tmp_path) == 200
            _write_rows(engine, 100)
            _wait_for_passes(checkpointer, checkpointer.passes + 2)
            assert _rows_in_file_alone(path, tmp_path) == 300
        finally:
            checkpointer.stop()
        assert not any(t.name == "wal-checkpoint" for t in threading.enumerate())
    finally:
        engine.dispose()


def test_readers_and_writers_go_on_during_checkpoints(tmp_path: Path) -> None:
    """PASSIVE checkpoints never take a lock others wait for: a reader holding an
    old snapshot (as the dashboard does) and a writer committing both proceed
    while passes run."""
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = make_engine(url, busy_timeout_ms=100)  # a wait would fail fast
    dashboard = make_engine(url, read_mostly=True, busy_timeout_ms=100)
    checkpointer = Checkpointer.for_engine(engine)
    assert checkpointer is not None
    try:
        _write_rows(engine, 10)
        with dashboard.connect() as reader, reader.begin():
            assert reader.execute(text("SELECT count(*) FROM notes")).scalar_one() == 10  # the snapshot starts here
            _write_rows(engine, 50)
            _wait_for_passes(checkpointer, checkpointer.passes + 2)
            assert reader.execute(text("SELECT count(*) FROM notes")).scalar_one() == 10
        with dashboard.connect() as reader:
            assert reader.execute(text("SELECT count(*) FROM notes")).scalar_one() == 60
    finally:
        checkpointer.stop()
        engine.dispose()
        dashboard.dispose()


def test_only_sqlite_files_get_one(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        checkpointer = Checkpointer.for_engine(engine)
        if db_url.startswith("postgresql"):
            assert checkpointer is None
        else:
            assert checkpointer is not None
            checkpointer.stop()
    finally:
        engine.dispose()
    assert Checkpointer.for_engine(make_engine("sqlite://")) is None


def test_a_checkpointer_that_cannot_run_says_so(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gone' / 'monitor.db'}")
    shutil.rmtree(tmp_path / "gone")  # make_engine made the directory: the file can no longer be opened
    out = StringIO()
    logs.configure("INFO", stream=out)
    try:
        checkpointer = Checkpointer.for_engine(engine)
        assert checkpointer is not None
        checkpointer.stop()  # the thread has ended by itself already, or ends now
    finally:
        logs.configure("WARNING")
        engine.dispose()
    assert "event=wal_checkpointer_stopped" in out.getvalue()
