"""SQLite: copy the write-ahead log into the database file off the writer's thread.

In WAL mode SQLite's own checkpoint runs inside the commit that pushes the log
past `wal_autocheckpoint` pages, on the daemon's single database thread: every
few commits that thread copied pages into the file and waited for two fsyncs.
On a year of data (1 M items) the new items' index entries land on pages all
over the file, and those checkpoints took most of the time ingest lost against
an empty database.

The daemon runs `Checkpointer` instead: a thread with its own connection that
runs PASSIVE checkpoints (they never wait for, nor block, readers or the writer)
every half second. The writers' `wal_autocheckpoint` (see `engine.py`) stays as
the backstop: a process without a checkpointer, or a checkpointer that falls
behind, still keeps the log bounded. PostgreSQL needs none of this.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine

from monitor import logs

log = logs.get("store")

INTERVAL_S = 0.5


class Checkpointer:
    """Made and started by `for_engine`; `stop()` waits for the pass under way and
    closes the connection."""

    def __init__(self, engine: Engine, *, interval_s: float = INTERVAL_S) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self.passes = 0  # completed checkpoints (tests wait on it)

    @classmethod
    def for_engine(cls, engine: Engine) -> Checkpointer | None:
        """A started checkpointer when `engine` is an SQLite file, else None."""
        if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
            return None
        checkpointer = cls(engine)
        checkpointer._thread.start()
        return checkpointer

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        connection: Any = None
        try:
            connection = self._engine.raw_connection()  # autocommit (engine.py): no BEGIN around the PRAGMA
            while not self._stop.wait(self._interval_s):
                self._checkpoint(connection)
        except Exception as exc:  # the writers' own checkpoints take over: say so, do not die silently
            log.error("wal_checkpointer_stopped", error=f"{type(exc).__name__}: {exc}",
                      hint="SQLite's automatic checkpoints continue; restart the daemon to restore this")
        finally:
            if connection is not None:
                connection.close()

    def _checkpoint(self, connection: Any) -> None:
        cursor = connection.cursor()
        try:
            busy, _log_frames, _copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            cursor.close()
        if not busy:  # busy: another connection is checkpointing; the next pass goes on
            self.passes += 1
