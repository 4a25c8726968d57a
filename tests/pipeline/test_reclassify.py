"""`monitor reclassify` on a database filled by replaying fixtures: hits and the
matched state follow the new rules, no alert for the past unless asked (then
once), lost matches keep their sent alerts and say why; idempotent, and
resumable after a SIGKILL in the middle of a run (a real process, killed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from monitor.items import Item
from monitor.rules import compile_rules, load_rules
from monitor.states import AlertState
from monitor.store.engine import make_engine
from monitor.store.models import Alert, ItemText, ReclassifyRun, StoredHit, StoredItem
from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import email_channel, smtp  # noqa: F401 - the fixture
from tests.pipeline.stored_db import in_workers, stored_db
from tests.processes import wait_for_value

items_t, hits_t, alerts_t, runs_t = (StoredItem.__table__, StoredHit.__table__, Alert.__table__,
                                     ReclassifyRun.__table__)


def _url(config: Path) -> str:
    from monitor.config import load_config

    return load_config(config).database_url


def _state(engine: Engine) -> dict[str, Any]:
    """Per title: matched, the rules of its hits, its note, its alerts' states."""
    with engine.connect() as conn:
        rows = conn.execute(select(items_t.c.id, items_t.c.title, items_t.c.matched, items_t.c.reclassified_note,
                                   items_t.c.rules_version)).all()
        hits = conn.execute(select(hits_t.c.item_id, hits_t.c.rule, hits_t.c.term, hits_t.c.start)).all()
        alerts = conn.execute(select(alerts_t.c.item_id, alerts_t.c.state)).all()
    return {
        r.title: {
            "matched": r.matched, "note": r.reclassified_note, "version": r.rules_version,
            "hits": sorted((h.rule, h.term, h.start) for h in hits if h.item_id == r.id),
            "alerts": sorted(a.state for a in alerts if a.item_id == r.id),
        }
        for r in rows
    }


def _reclassify(config: Path, *args: str) -> dict[str, Any]:
    code, out, err = invoke(config, "reclassify", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def test_reclassify_follows_the_new_rules_without_alerting_the_past(
    tmp_path: Path, db_url: str, smtp: Any  # noqa: F811
) -> None:
    config = stored_db(tmp_path, db_url, channel=email_channel(smtp.port))
    assert invoke(config, "alerts", "send")[0] == 0  # the matches' alerts went out
    engine = make_engine(_url(config))
    before = _state(engine)
    assert before["Labour standards discussed"]["alerts"] == ["sent"]

    assert _reclassify(config, "--dry-run")["changed"] == 3
    assert _state(engine) == before  # a dry run writes nothing

    report = _reclassify(config)
    assert (report["changed"], report["newly_matching"], report["no_longer_matching"], report["alerts"]) == (3, 1, 1, 0)
    after = _state(engine)
    lost = after["Labour standards discussed"]
    assert not lost["matched"] and lost["hits"] == [] and lost["alerts"] == ["sent"]  # its sent alert stays
    assert lost["note"] == f"rules version {report['rules_version']}: no longer matches (matched ilo)"
    gained = after["Delegation meets ILO experts"]
    assert gained["matched"] and gained["hits"] == [("ilo", "ILO", 17)] and gained["alerts"] == []
    assert after["ILO chief visits Minsk"]["hits"] == [("ilo", "ILO", 0)]
    assert after["Trade talks continue"] == before["Trade talks continue"] | {"version": report["rules_version"]}
    assert {v["version"] for v in after.values()} == {report["rules_version"]}
    assert len(alerts_json(config)) == 3  # no alert for the past

    again = _reclassify(config)
    assert again["changed"] == 0 and _state(engine) == after  # idempotent

    code, _, err = invoke(config, "reclassify", "--rule", "nope")
    assert code == 2 and "nope" in err
    engine.dispose()


def test_alert_queues_each_new_match_once(tmp_path: Path, db_url: str) -> None:
    config = stored_db(tmp_path, db_url, channel=email_channel(9))
    engine = make_engine(_url(config))
    with engine.begin() as conn:  # a story an analyst marked not relevant gets no alert
        conn.execute(update(StoredItem).where(items_t.c.title == "Rain expected in Minsk")
                     .values(relevance="not-relevant"))
    (tmp_path / "rules" / "pack.toml").write_text(
        (tmp_path / "rules" / "pack.toml").read_text() + '\n[[rule]]\nid = "rain"\ndescription = "Rain"\n'
        'any = ["rain"]\n', encoding="utf-8")
    assert _reclassify(config, "--alert")["alerts"] == 1  # the ILO item; the rain story is not relevant
    assert _reclassify(config, "--alert")["alerts"] == 0
    state = _state(engine)
    assert state["Delegation meets ILO experts"]["alerts"] == [AlertState.PENDING]
    assert state["Rain expected in Minsk"]["alerts"] == [] and state["Rain expected in Minsk"]["matched"]
    engine.dispose()


def test_rule_limits_the_change_to_one_rule(tmp_path: Path, db_url: str) -> None:
    config = stored_db(tmp_path, db_url)
    engine = make_engine(_url(config))
    before = _state(engine)
    assert _reclassify(config, "--rule", "trade")["changed"] == 0
    assert _state(engine) == before  # the ilo change is not applied, no version recorded
    assert _reclassify(config, "--rule", "ilo")["changed"] == 3
    engine.dispose()


def test_a_run_killed_mid_way_resumes_and_ends_as_a_clean_run_would(tmp_path: Path, db_url: str) -> None:
    config = stored_db(tmp_path, db_url, copies=120, channel=email_channel(9))  # 600 items
    engine = make_engine(_url(config), read_mostly=True)  # reads what is committed, never waits for the writer
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "reclassify", "--batch", "5", "--alert",
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )

    def progressed() -> int | None:
        with engine.connect() as conn:
            row = conn.execute(select(runs_t.c.id, runs_t.c.last_item_id, runs_t.c.finished_at)).first()
        return row.id if row is not None and row.last_item_id > 0 else None

    wait_for_value(progressed, timeout=60)
    process.send_signal(signal.SIGSTOP)  # frozen wherever it is, perhaps inside a batch's transaction
    try:
        with engine.connect() as conn:
            stopped_at = conn.execute(select(runs_t.c.last_item_id, runs_t.c.finished_at)).one()
        assert stopped_at.finished_at is None, "the run finished before it could be killed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    resumed = _reclassify(config, "--batch", "10", "--alert")
    assert resumed["resumed_after"] == stopped_at.last_item_id > 0
    assert _reclassify(config, "--alert")["changed"] == 0  # nothing left to do

    matcher = compile_rules(load_rules([tmp_path / "rules"]))
    state = _state(engine)
    with engine.connect() as conn:
        texts = dict(conn.execute(select(StoredItem.title, ItemText.text).join(ItemText, ItemText.item_id == StoredItem.id)).all())
    for title, item in state.items():  # every item as a clean classification says
        want = sorted((h.rule, h.term, h.start) for h in matcher.scan(Item("s", "g", title, texts[title])))
        assert item["hits"] == want, title
        assert item["matched"] == bool(want)
    acronyms = [t for t in state if t.startswith("Delegation meets ILO experts")]
    assert len(acronyms) == 120 and all(state[t]["alerts"] == ["pending"] for t in acronyms)  # each once
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alerts")).scalar_one() == 120 * 3 + 120
    engine.dispose()




def test_workers_reading_their_own_ranges_write_what_one_process_would(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = stored_db(tmp_path, db_url, copies=15, channel=email_channel(9))  # 75 items
    alone = _reclassify(config, "--dry-run", "--alert")  # one process, nothing written
    engine = make_engine(_url(config))
    before = _state(engine)

    pools = in_workers(monkeypatch, range_size=1)  # reclassify's ranges: its --batch
    assert _reclassify(config, "--dry-run", "--alert", "--batch", "7") == alone
    assert _state(engine) == before
    report = _reclassify(config, "--alert", "--batch", "7")
    assert len(pools) == 2 and all(pool is not None for pool in pools)
    assert {k: v for k, v in report.items() if k not in ("alerts", "dry_run")} == {
        k: v for k, v in alone.items() if k not in ("alerts", "dry_run")}
    assert report["alerts"] == 15  # each copy of the item that matches now, once

    matcher = compile_rules(load_rules([tmp_path / "rules"]))
    state = _state(engine)
    with engine.connect() as conn:
        texts = dict(conn.execute(select(StoredItem.title, ItemText.text).join(ItemText, ItemText.item_id == StoredItem.id)).all())
    for title, item in state.items():  # every item as a clean classification says
        want = sorted((h.rule, h.term, h.start) for h in matcher.scan(Item("s", "g", title, texts[title])))
        assert item["hits"] == want, title
        assert item["matched"] == bool(want)
        assert item["version"] == report["rules_version"]
    assert _reclassify(config, "--alert")["changed"] == 0
    engine.dispose()
