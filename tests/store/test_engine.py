"""make_engine: what each backend's connections are set up to do."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.store.engine import make_engine
from tests.conftest import RULES


def test_queries_are_planned_afresh_each_time(db_url: str) -> None:
    """A plan made once while a table was empty must not outlive the emptiness
    (PostgreSQL keeps the plan of a server-side prepared statement)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL keeps plans of prepared statements")
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            for n in range(20):
                conn.execute(text("SELECT :n + 1"), {"n": n}).scalar_one()
            assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one() == 0
    finally:
        engine.dispose()


def _corrupt_header(path: Path) -> None:
    with path.open("r+b") as f:
        f.write(b"not a database!!")


def _corrupt_a_deep_page(path: Path) -> None:
    """Garbage over the root page of `hits`: opening, migrations and `db current` all
    still work; reading hits does not."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'hits'").fetchone()[0]
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * page_size)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once: each test corrupts a copy."""
    database = tmp_path_factory.mktemp("migrated") / "m.db"
    subprocess.run([sys.executable, "-m", "monitor", "db", "upgrade"], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "MONITOR_DATABASE_URL": f"sqlite:///{database}"})
    return database


@pytest.mark.parametrize("corrupt", [_corrupt_header, _corrupt_a_deep_page], ids=["header", "deep-page"])
@pytest.mark.parametrize("command", [["run"], ["db", "current"]], ids=" ".join)
def test_a_corrupt_sqlite_file_stops_the_start_with_exit_4_and_what_to_do(
    corrupt: Callable[[Path], None], command: list[str], tmp_path: Path, migrated: Path
) -> None:
    database = tmp_path / "m.db"
    config = tmp_path / "monitor.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n[rules]\npaths = ["{RULES}"]\n'
                      '[web]\nport = 0\n', encoding="utf-8")
    monitor = [sys.executable, "-m", "monitor", "--config", str(config)]
    shutil.copyfile(migrated, database)
    corrupt(database)

    try:
        proc = subprocess.run([*monitor, *command], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`monitor {' '.join(command)}` started on a corrupt database")
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "corrupt" in proc.stderr and "backup" in proc.stderr, proc.stderr


def test_the_default_sqlite_file_is_private_to_its_user(tmp_path: Path) -> None:
    """Outside systemd (no StateDirectoryMode=, no UMask=) the state directory is
    created 0700 and the database 0600, whatever the umask; its WAL files follow."""
    state = tmp_path / "state" / "nested"
    config = tmp_path / "monitor.toml"
    config.write_text(f'state_dir = "{state}"\n[rules]\npaths = ["{RULES}"]\n[web]\nport = 0\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "MONITOR_DATABASE_URL")}
    proc = subprocess.run(
        ["sh", "-c", f'umask 022 && exec "{sys.executable}" -m monitor --config "{config}" poll --once'],
        capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (state.stat().st_mode & 0o777, state.parent.stat().st_mode & 0o777) == (0o700, 0o700)
    files = sorted(state.glob("press-monitor.db*"))
    assert files and {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}


@pytest.mark.parametrize("corrupt,caught", [(_corrupt_header, True), (_corrupt_a_deep_page, False)],
                         ids=["header", "deep-page"])
def test_a_large_file_gets_the_cheap_check_at_start(
    corrupt: Callable[[Path], None], caught: bool, tmp_path: Path, migrated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above FULL_CHECK_MAX_BYTES (a year of data: quick_check took 31 s at 1 M items) a
    start reads the header and the schema only: a broken header still stops it; a
    broken page deep in a table is left to the backup's check."""
    from monitor.store import engine as engine_module

    monkeypatch.setattr(engine_module, "FULL_CHECK_MAX_BYTES", 0)
    database = tmp_path / "m.db"
    shutil.copyfile(migrated, database)
    corrupt(database)
    engine = make_engine(f"sqlite:///{database}")
    try:
        if caught:
            with pytest.raises(engine_module.DatabaseCorrupt):
                engine_module.verify(engine)
        else:
            engine_module.verify(engine)
    finally:
        engine.dispose()
