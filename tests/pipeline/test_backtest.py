"""`monitor rules test` on a database filled by replaying fixtures: exactly the
items each rule gains and loses, nothing written, exit codes for CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.app import App
from monitor.config import load_config
from monitor.errors import ExitCode
from tests.alerts.cli import invoke
from tests.pipeline.stored_db import GAINED, LOST, NEW, OLD, in_workers, json_lines, stored_db


def _counts(config: Path) -> tuple[int, int, int]:
    store = App(load_config(config)).store()
    try:
        return store.count("items"), store.count("hits"), store.count("alerts")
    finally:
        store.engine.dispose()


def test_rules_test_reports_exactly_the_gained_and_lost_items_and_writes_nothing(tmp_path: Path, db_url: str) -> None:
    config = stored_db(tmp_path, db_url)
    before = _counts(config)

    code, out, err = invoke(config, "rules", "test", "--json")
    assert code == ExitCode.OK, err
    diffs = {d["rule"]: d for d in json_lines(out)}
    assert set(diffs) == {"ilo", "trade"}
    for rule in diffs:
        assert [i["title"] for i in diffs[rule]["gained_items"]] == GAINED[rule]
        assert [i["title"] for i in diffs[rule]["lost_items"]] == LOST[rule]
    assert (diffs["ilo"]["current"], diffs["ilo"]["candidate"]) == (2, 2)
    assert (diffs["trade"]["current"], diffs["trade"]["candidate"]) == (1, 1)
    gained = diffs["ilo"]["gained_items"][0]
    assert gained["snippet"] == "Delegation meets [ILO] experts" and gained["source"] and gained["published"]
    lost = diffs["ilo"]["lost_items"][0]
    assert "[International Labour Organization]" in lost["snippet"]
    assert lost["rules_version"] and gained["rules_version"] == lost["rules_version"]  # what classified them
    assert "5 stored items tried; 1 lost matches" in err
    assert _counts(config) == before  # nothing stored, no alert

    code, out, _ = invoke(config, "rules", "test")
    assert code == ExitCode.OK
    assert "ilo: current 2, candidate 2: +1 gained, -1 lost" in out
    assert "+ " in out and "Delegation meets ILO experts" in out and "- " in out


def test_fail_on_loss_and_one_rule_and_candidate_files(tmp_path: Path, db_url: str) -> None:
    config = stored_db(tmp_path, db_url)
    assert invoke(config, "rules", "test", "--fail-on-loss")[0] == ExitCode.LOST

    code, out, _ = invoke(config, "rules", "test", "--rule", "trade", "--json", "--fail-on-loss")
    assert code == ExitCode.OK and [d["rule"] for d in json_lines(out)] == ["trade"]

    same = tmp_path / "same.toml"  # the rules the items were stored with: no difference at all
    same.write_text(OLD, encoding="utf-8")
    code, out, _ = invoke(config, "rules", "test", str(same), "--json", "--fail-on-loss")
    assert code == ExitCode.OK
    assert all(d["gained"] == d["lost"] == 0 for d in json_lines(out))

    broken = tmp_path / "broken.toml"
    broken.write_text(NEW.replace('any = ["ILO"]', "any = 3"), encoding="utf-8")
    code, _, err = invoke(config, "rules", "test", str(broken))
    assert code == ExitCode.CONFIG and str(broken) in err

    code, _, err = invoke(config, "rules", "test", "--rule", "nope")
    assert code == ExitCode.CONFIG and "nope" in err


def test_since_leaves_older_items_out(tmp_path: Path, db_url: str) -> None:
    config = stored_db(tmp_path, db_url)
    code, out, err = invoke(config, "rules", "test", "--since", "2999-01-01", "--json")
    assert code == ExitCode.OK
    assert all(d["current"] == d["candidate"] == 0 for d in json_lines(out)) and "0 stored items" in err
    code, _, err = invoke(config, "rules", "test", "--since", "yesterday")
    assert code == ExitCode.CONFIG and "30d" in err


def test_workers_reading_their_own_ranges_report_what_one_process_does(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = stored_db(tmp_path, db_url, copies=15)  # more gained items than the 10 shown
    alone = [invoke(config, "rules", "test", *args) for args in ([], ["--json", "--all"], ["--rule", "ilo"])]
    assert "… and" in alone[0][1]  # the first 10 shown, across several ranges below

    pools = in_workers(monkeypatch, range_size=7)
    together = [invoke(config, "rules", "test", *args) for args in ([], ["--json", "--all"], ["--rule", "ilo"])]
    assert len(pools) == 3 and all(pool is not None for pool in pools)
    assert together == alone
