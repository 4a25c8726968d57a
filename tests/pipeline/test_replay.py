"""`monitor replay`: the seed texts go through the one pipeline into a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, inspect, select

from monitor.cli import main
from monitor.store.engine import make_engine
from monitor.store.models import ItemText, StoredHit, StoredItem
from tests.conftest import ROOT, SEEDS

SEED_000 = next(SEEDS.glob("000_*.txt"))
SEED_004 = next(SEEDS.glob("004_*.txt"))


def invoke(config: Path, *args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def replay_json(config: Path, *args: str) -> list[dict]:
    code, out, err = invoke(config, "replay", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def count_items(db_url: str) -> int:
    """Items stored; 0 when the database was never even created."""
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).exists():
        return 0
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("items"):
                return 0
            return conn.execute(select(func.count()).select_from(StoredItem)).scalar_one()
    finally:
        engine.dispose()


def test_seeds_are_byte_for_byte_the_shared_ones() -> None:
    shared = ROOT.parent / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("no ../shared/seeds beside this checkout")
    for original in shared.iterdir():
        assert (SEEDS / original.name).read_bytes() == original.read_bytes()


def test_replaying_the_seeds_stores_and_classifies_both(config_file: Path, db_url: str) -> None:
    results = {Path(r["path"]).name: r for r in replay_json(config_file, str(SEEDS))}

    assert results[SEED_000.name]["rules"] == ["ohchr"]
    assert results[SEED_004.name]["rules"] == ["ilo", "ohchr", "upr"]
    assert {r["status"] for r in results.values()} == {"new"}
    assert count_items(db_url) == 2
    for result in results.values():
        assert {"path", "guid", "link", "title", "status", "rules", "hits"} <= result.keys()
        for hit in result["hits"]:
            assert {"rule", "term", "start", "end", "snippet"} <= hit.keys()
            assert hit["matched"].casefold() in hit["snippet"].casefold()


def test_a_second_replay_stores_nothing_and_says_seen(config_file: Path, db_url: str) -> None:
    replay_json(config_file, str(SEEDS))
    again = replay_json(config_file, str(SEEDS))

    assert [r["status"] for r in again] == ["seen", "seen"]
    assert count_items(db_url) == 2
    code, out, err = invoke(config_file, "replay", str(SEEDS))
    assert code == 0
    assert "0 new, 2 already seen" in err


def test_stored_seed_004_has_each_paragraph_once(config_file: Path, db_url: str) -> None:
    replay_json(config_file, str(SEED_004))
    engine = make_engine(db_url)
    with engine.connect() as conn:
        text = conn.execute(select(ItemText.text)).scalar_one()
    engine.dispose()
    for sentence in (
        "The parties exchanged views on global trends",
        "The Belarusian diplomat drew the attention",
        "The deputy minister of foreign affairs also met",
        "Igor Sekreta informed Beate Andrees",
    ):
        assert text.count(sentence) == 1, sentence
    assert "Photo courtesy" not in text


def test_stored_hits_point_at_the_stored_characters(config_file: Path, db_url: str) -> None:
    replay_json(config_file, str(SEEDS))
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(StoredHit.field, StoredHit.start, StoredHit.end, StoredHit.matched,
                   StoredItem.title, ItemText.text)
            .join(StoredItem, StoredItem.id == StoredHit.item_id).join(ItemText, ItemText.item_id == StoredItem.id)
        ).all()
    engine.dispose()
    assert len(rows) >= 4
    for row in rows:
        field_text = row.title if row.field == "title" else row.text
        assert field_text[row.start : row.end] == row.matched


def test_dry_run_reports_but_stores_nothing(config_file: Path, db_url: str) -> None:
    results = replay_json(config_file, "--dry-run", str(SEEDS))
    assert [r["status"] for r in results] == ["new", "new"]
    assert results[1]["rules"] == ["ilo", "ohchr", "upr"]

    replay_json(config_file, str(SEED_000))
    results = replay_json(config_file, "--dry-run", str(SEEDS))
    assert [r["status"] for r in results] == ["seen", "new"]
    assert count_items(db_url) == 1


def test_standard_input_is_one_fixture(config_file: Path) -> None:
    code, out, err = invoke(config_file, "replay", "--json", "-", input=SEED_004.read_bytes())
    assert code == 0, err
    (result,) = [json.loads(line) for line in out.splitlines()]
    assert result["rules"] == ["ilo", "ohchr", "upr"]


def test_the_same_text_under_another_name_is_seen(config_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_bytes(SEED_000.read_bytes())
    replay_json(config_file, str(SEED_000))
    (result,) = replay_json(config_file, str(copy))
    assert result["status"] == "seen"


def test_an_unreadable_fixture_stops_the_replay_before_storing(
    config_file: Path, db_url: str, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "a.txt").write_bytes(SEED_000.read_bytes())
    (inputs / "b.txt").write_bytes(b"\xff\xfe\x00\x00garbage\x00\x81\x8d")
    code, out, err = invoke(config_file, "replay", str(inputs))
    assert code == 3
    assert "b.txt" in err
    assert count_items(db_url) == 0


def test_a_missing_path_is_a_clear_error(config_file: Path) -> None:
    code, _, err = invoke(config_file, "replay", "/nonexistent/fixture.txt")
    assert code == 3
    assert "/nonexistent/fixture.txt" in err


def test_a_bad_rule_file_stops_everything(config_file: Path, tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "rules"
    bad.mkdir()
    (bad / "broken.toml").write_text('[[rule]]\nid = "x"\nany = ["OHCHR"]\nwithin = -1\n')
    config_file.write_text(config_file.read_text().replace(repr(str(ROOT / "config" / "rules")), repr(str(bad))))
    code, _, err = invoke(config_file, "replay", str(SEEDS))
    assert code == 2
    assert "broken.toml" in err and "'x'" in err and "within" in err
    assert count_items(db_url) == 0


def test_a_bad_config_key_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text("[database]\nurll = 'sqlite://'\n")
    code, _, err = invoke(config, "replay", str(SEEDS))
    assert code == 2
    assert str(config) in err and "database.urll" in err and "unknown key" in err


def test_the_installed_command_uses_the_database_from_the_environment(
    config_file: Path, db_url: str, tmp_path: Path
) -> None:
    config_file.write_text(config_file.read_text().replace(repr(db_url), "'sqlite:////nonexistent/no.db'"))
    env = {**os.environ, "MONITOR_DATABASE_URL": db_url}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config_file), "replay", "--json", str(SEEDS)],
        capture_output=True, env=env, cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(proc.stdout.decode().splitlines()) == 2
    assert count_items(db_url) == 2


def test_worker_processes_classify_exactly_as_the_serial_path(config_file: Path, db_url: str, tmp_path: Path) -> None:
    from monitor.app import App
    from monitor.config import load_config
    from monitor.pipeline import replay
    from monitor.pipeline.workers import make_pool

    app = App(load_config(config_file))
    app.upgrade()
    loaded = replay.load(replay.fixture_paths([str(SEEDS)]))
    serial = list(replay.run(app.pipeline(), loaded.items, dry_run=True))
    with make_pool(app.config.rule_paths, 1, app.config.settings.routes) as pool:
        parallel = list(replay.run(app.pipeline(), loaded.items, dry_run=False, workers=pool))
    app.engine.dispose()
    assert [(r.item.title, r.rules, list(r.hits)) for r in parallel] == [
        (r.item.title, r.rules, list(r.hits)) for r in serial]
    assert [r.outcome.status for r in parallel] == ["new", "new"]
    assert count_items(db_url) == 2


def test_the_replay_pool_prepares_in_small_tasks_and_stores_in_batches(
    config_file: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 4 items, prepared by `worker_pool`'s workers in tasks of 3: each
    batch gets back its own items, in order, whatever the cut."""
    import dataclasses

    from monitor.app import App
    from monitor.config import load_config
    from monitor.pipeline import replay

    monkeypatch.setattr(replay, "BATCH", 4)
    monkeypatch.setattr(replay, "PREPARE_CHUNK", 3)
    monkeypatch.setattr(replay, "PARALLEL_FROM", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    app = App(load_config(config_file))
    app.upgrade()
    loaded = replay.load(replay.fixture_paths([str(SEEDS)]))
    items = [dataclasses.replace(item, source="replay:copies", guid=f"{n}")
             for n, item in enumerate(loaded.items * 3)]  # 6 items: 2 stories, each told 3 times
    serial = list(replay.run(app.pipeline(), items, dry_run=True))
    pool = replay.worker_pool(app.config.rule_paths, app.config.settings.routes, len(items))
    assert pool is not None
    with pool:
        parallel = list(replay.run(app.pipeline(), items, dry_run=False, workers=pool))
    app.engine.dispose()
    assert [r.item.guid for r in parallel] == [str(n) for n in range(6)]
    assert [(r.item.title, list(r.hits)) for r in parallel] == [(r.item.title, list(r.hits)) for r in serial]
    assert [(r.outcome.status, r.outcome.reason) for r in parallel] == [("new", None)] * 2 + [("seen", "story")] * 4
    assert count_items(db_url) == 6


def test_many_files_are_parsed_in_parallel_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.pipeline import replay

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00\x00garbage\x00\x81\x8d")
    paths = [*replay.fixture_paths([str(SEEDS)]), bad, SEED_000]
    serial = replay.load(paths)
    monkeypatch.setattr(replay, "PARALLEL_FROM", 1)
    monkeypatch.setattr(replay, "LOAD_CHUNK", 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    advanced: list[int] = []
    parallel = replay.load(paths, advanced.append)
    assert parallel.items == serial.items and parallel.files == serial.files == 3
    assert [str(e) for e in parallel.errors] == [str(e) for e in serial.errors] and len(serial.errors) == 1
    assert sum(advanced) == len(paths)


def test_killing_a_replay_takes_its_worker_processes_with_it(tmp_path: Path) -> None:
    """kill -9 of `monitor replay` (enough fixtures for it to start workers): the
    workers must not live on, classifying for nobody."""
    from tests.processes import alive, children, wait_for_value

    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    for n in range(4_000):
        (fixtures / f"{n:05}.txt").write_text(
            f"Statement {n}\n\nGENEVA, 4 November - The ILO Governing Body met for session {n}.\n", encoding="utf-8")
    config = tmp_path / "monitor.toml"
    database = f"sqlite:///{tmp_path / 'm.db'}"
    config.write_text(f"[database]\nurl = {json.dumps(database)}\n"
                      f"[rules]\npaths = [{json.dumps(str(ROOT / 'config' / 'rules'))}]\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "replay", str(fixtures)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers = wait_for_value(lambda: (found := children(proc.pid)) and len(found) >= 2 and found, timeout=60)
    finally:
        proc.kill()
        proc.wait()
    wait_for_value(lambda: not any(alive(w) for w in workers), timeout=10)


def test_html_article_pages_are_extracted_as_the_daemon_does(config_file: Path, tmp_path: Path) -> None:
    from tests.articles.site import pages

    site = list(pages())
    for page in site:
        (tmp_path / f"{page.layout}-{page.body.slug}.html").write_bytes(page.html)
    (tmp_path / "menu-only.html").write_bytes(b"<html><body><nav><a href='/'>OHCHR</a></nav></body></html>")

    code, _, err = invoke(config_file, "replay", str(tmp_path / "menu-only.html"))
    assert code != 0 and "no article text" in err

    (tmp_path / "menu-only.html").unlink()
    results = {Path(r["path"]).stem: r for r in replay_json(config_file, str(tmp_path))}
    assert {name: set(r["rules"]) for name, r in results.items()} == {
        f"{p.layout}-{p.body.slug}": set(p.body.rules) for p in site}
