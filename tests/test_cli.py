"""The CLI as cron and scripts use it: every state accepted, exit codes that mean
one thing, and nothing started when there is nothing to do."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from monitor.app import App, poll_once
from monitor.config import load_config
from monitor.errors import ExitCode
from monitor.states import AlertState
from monitor.store.queries import DashboardQueries
from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import email_channel, write_config
from tests.conftest import SEEDS

SEED_004 = next(SEEDS.glob("004_*.txt"))


def test_every_alert_state_is_accepted_by_state_and_a_suppressed_alert_is_listed(
    tmp_path: Path, db_url: str
) -> None:
    config = write_config(tmp_path, db_url, channels={"desk": email_channel(9)},
                          routes=[{"rules": ["*"], "channel": "desk"}])
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    (alert,) = alerts_json(config)
    app = App(load_config(config))
    DashboardQueries(app.engine).mark_not_relevant(alert["item_id"])
    app.engine.dispose()

    for state in AlertState:
        code, out, err = invoke(config, "alerts", "list", "--state", state.value, "--json")
        assert code == 0, (state, err)
    assert [a["id"] for a in alerts_json(config, "--state", "suppressed")] == [alert["id"]]
    assert alerts_json(config, "--state", "pending") == []


def test_help_documents_every_exit_code() -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    text = CliRunner().invoke(main, ["--help"]).output
    for code in ExitCode:
        assert f"  {code.value}  " in text, code


def test_a_failed_source_is_exit_5_and_a_bad_config_exit_2(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, channels={}, routes=[])
    config.write_text(config.read_text() + '[[feeds]]\nurl = "http://127.0.0.1:9/feed.xml"\n[fetch]\n'
                      'allowed_networks = ["127.0.0.0/8"]\n', encoding="utf-8")
    code, _, err = invoke(config, "poll", "--once")
    assert code == ExitCode.PARTIAL and "1 failed" in err

    config.write_text(config.read_text() + "[nonsense]\nkey = 1\n", encoding="utf-8")
    code, _, err = invoke(config, "poll", "--once")
    assert code == ExitCode.CONFIG and str(config) in err and "nonsense" in err


def test_poll_once_with_nothing_due_compiles_no_rules_and_starts_no_worker(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, channels={}, routes=[])
    config.write_text(config.read_text().replace("parse_workers = 0", "parse_workers = 2"), encoding="utf-8")
    app = App(load_config(config))
    report = poll_once(app)  # no feed listed: nothing is due
    assert report.polls == []
    assert "matcher" not in vars(app)  # the cached compiled rules were never built
    assert multiprocessing.active_children() == []
    app.engine.dispose()


def test_classify_shows_the_language_and_why_a_mention_does_not_count(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, channels={}, routes=[])
    fixture = tmp_path / "cusco.txt"
    fixture.write_text(
        "La OIT de Cusco abre un segundo local\n\n"
        "La Oficina de Información Turística (OIT) de Cusco atendió a 12 000 visitantes este año. "
        "La Organización Internacional del Trabajo publicó un informe sobre el empleo.\n",
        encoding="utf-8",
    )
    code, out, err = invoke(config, "classify", str(fixture))
    assert code == 0, err
    assert out.splitlines()[0] == "La OIT de Cusco abre un segundo local  [es]"
    assert "'Organización Internacional del Trabajo'" in out
    assert "not counted: the item defines OIT as something else: 'Oficina de Información Turística (OIT)'" in out

    code, out, err = invoke(config, "classify", "--json", str(fixture))
    (result,) = [json.loads(line) for line in out.splitlines()]
    assert (result["language"], result["rules"]) == ("es", ["ilo"])
    assert [h["matched"] for h in result["hits"]] == ["Organización Internacional del Trabajo"]
    assert [(s["field"], s["matched"]) for s in result["set_aside"]] == [("title", "OIT"), ("text", "OIT")]
    assert result["set_aside"][1]["reason"].startswith("the item defines OIT as something else")


def test_replay_json_gives_each_items_language(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, channels={}, routes=[])
    fixture = tmp_path / "ilo.txt"
    fixture.write_text("国际劳工组织发布全球就业报告\n\n报告说，全球失业率将小幅上升。\n", encoding="utf-8")
    code, out, err = invoke(config, "replay", "--json", str(SEED_004), str(fixture))
    assert code == 0, err
    assert [(r["language"], r["rules"]) for r in map(json.loads, out.splitlines())] == [
        ("en", ["ilo", "ohchr", "upr"]), ("zh", ["ilo"]),
    ]  # fmt: skip
