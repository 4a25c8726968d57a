"""`monitor db stats` and `monitor db backup`: a consistent copy while another
process keeps writing, and a clear refusal where we cannot make one."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.yeardata import Shape, generate
from monitor.store.migrations import HEAD
from tests.alerts.cli import invoke
from tests.conftest import ROOT, RULES

WRITER = """
import sys, time
from pathlib import Path
from monitor.store.engine import make_engine
from monitor.store.repository import Store
from tests.store.test_repository import entry
store = Store(make_engine(sys.argv[1]))
stop, n = Path(sys.argv[2]), 0
while not stop.exists():
    n += 1
    store.ingest("https://writer.example/feed", [entry(f"w-{n}-{i}", text=f"release {n} {i} " * 50, hits=False)
                                                 for i in range(20)])
    print(n, flush=True)
"""


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n[database]\nurl = {url!r}\n'
                    f"[rules]\npaths = [{str(RULES)!r}]\n[log]\nlevel = \"WARNING\"\n", encoding="utf-8")
    return path


def _items(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


def test_a_backup_taken_while_another_process_writes_is_whole_and_consistent(tmp_path: Path) -> None:
    database = tmp_path / "monitor.db"
    generate(f"sqlite:///{database}", Shape(20_000, feeds=50))
    config = _config(tmp_path, f"sqlite:///{database}")
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, f"sqlite:///{database}", str(stop)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        writer.stdout.readline()  # the writer has committed once: it is running
        before = _items(database)
        code, out, err = invoke(config, "db", "backup", str(tmp_path / "copy.db"))
        time.sleep(0.3)
        after = _items(database)
    finally:
        stop.touch()
        writer.wait(timeout=30)
    assert code == 0, err
    assert "checked ok" in out
    assert after > before  # the writer was never stopped by the backup
    copy = tmp_path / "copy.db"
    assert copy.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        copied = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
        # Whole batches only: the writer commits 20 items at a time, so a torn copy would show.
        assert conn.execute("SELECT count(*) FROM items WHERE guid LIKE 'w-%'").fetchone()[0] % 20 == 0
    assert before <= copied <= after


def test_a_backup_never_overwrites(tmp_path: Path) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}")
    assert invoke(config, "db", "upgrade")[0] == 0
    target = tmp_path / "taken.db"
    target.write_text("precious", encoding="utf-8")
    code, _, err = invoke(config, "db", "backup", str(target))
    assert code == 3 and "exists" in err
    assert target.read_text(encoding="utf-8") == "precious"


def test_a_backup_of_postgresql_is_refused_with_pg_dump_named(pg_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, pg_url)
    assert invoke(config, "db", "upgrade")[0] == 0
    code, _, err = invoke(config, "db", "backup", str(tmp_path / "copy.dump"))
    assert code == 3 and "pg_dump" in err
    assert not (tmp_path / "copy.dump").exists()


def test_stats_count_rows_and_name_the_oldest_and_newest_item(db_url: str, tmp_path: Path) -> None:
    generate(db_url, Shape(1_000, feeds=10))
    config = _config(tmp_path, db_url)
    code, out, err = invoke(config, "db", "stats", "--json")
    assert code == 0, err
    stats = json.loads(out)
    assert stats["rows"]["items"] == 1_000 and stats["rows"]["feeds"] == 10
    assert stats["rows"]["hits"] > 0 and stats["rows"]["alerts"] > 0 and stats["rows"]["delivery_attempts"] > 0
    assert stats["texts_kept"] == 1_000
    assert stats["oldest_item"] < stats["newest_item"]
    assert stats["size_bytes"] > 0
    code, out, _ = invoke(config, "db", "stats")
    assert code == 0 and "items" in out and "1,000 rows" in out


@pytest.mark.parametrize("option", ["--json", None])
def test_stats_of_an_empty_database(tmp_path: Path, option: str | None) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}")
    invoke(config, "db", "upgrade")
    code, out, err = invoke(config, "db", "stats", *([option] if option else []))
    assert code == 0, err
    assert ("null" if option else "oldest item    -") in out
