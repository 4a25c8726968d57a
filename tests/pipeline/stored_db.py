"""A database filled by replaying fixtures with `monitor replay`, under a small
rule pack whose matches are known by heart, and the pack changed afterwards:
what `rules test` and `reclassify` must find, item by item.

Before (`OLD`): ilo = "International Labour Organization", trade = "tariffs".
After (`NEW`): ilo = "ILO" (capitals), trade unchanged.

    labour-1  "ILO" in the title, the full name in the text     ilo before and after
    labour-2  the full name only                                ilo lost
    acronym   "ILO" only                                        ilo gained
    tariffs   "tariffs"                                         trade, before and after
    weather   nothing                                           nothing
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.cli import invoke
from tests.alerts.conftest import toml_value

OLD = '''
[[rule]]
id = "ilo"
description = "International Labour Organization"
any = ["International Labour Organization"]

[[rule]]
id = "trade"
description = "Trade disputes"
any = ["tariffs"]
'''
NEW = OLD.replace('any = ["International Labour Organization"]', 'any = ["ILO"]')

FIXTURES = {
    "labour-1": "ILO chief visits Minsk\n\nThe head of the International Labour Organization met the minister.\n",
    "labour-2": "Labour standards discussed\n\nThe International Labour Organization reviewed the report.\n",
    "acronym": "Delegation meets ILO experts\n\nExperts from Geneva met the delegation on Tuesday.\n",
    "tariffs": "Trade talks continue\n\nThe ministers discussed tariffs and quotas in Vienna.\n",
    "weather": "Rain expected in Minsk\n\nForecasters expect rain over the weekend.\n",
}
GAINED = {"ilo": ["Delegation meets ILO experts"], "trade": []}
LOST = {"ilo": ["Labour standards discussed"], "trade": []}


def write_fixtures(folder: Path, copies: int = 1) -> Path:
    """The fixtures, each `copies` times (every copy a story of its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FIXTURES.items():
        for n in range(copies):
            title, body = text.split("\n", 1)
            suffix = f" ({n})" if copies > 1 else ""
            (folder / f"{name}-{n:05d}.txt").write_text(f"{title}{suffix}\n{body}Item number {n}.\n",
                                                        encoding="utf-8")
    return folder


def stored_db(tmp_path: Path, db_url: str, *, copies: int = 1, channel: dict[str, Any] | None = None) -> Path:
    """A config over `db_url` with the OLD pack, the fixtures replayed; then the pack
    rewritten to NEW (the returned config's rules), as an analyst would edit it."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pack.toml").write_text(OLD, encoding="utf-8")
    lines = [f'state_dir = {toml_value(tmp_path / "state")}', f"[database]\nurl = {toml_value(db_url)}",
             f"[rules]\npaths = [{toml_value(rules)}]", '[log]\nlevel = "WARNING"', "[web]\nport = 0"]
    if channel is not None:
        lines += ["[channels.desk]", *(f"{k} = {toml_value(v)}" for k, v in channel.items()),
                  "[[routes]]", 'rules = ["*"]', 'channel = "desk"']
    config = tmp_path / "monitor.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = invoke(config, "replay", str(write_fixtures(tmp_path / "fixtures", copies)))
    assert code == 0, err
    (rules / "pack.toml").write_text(NEW, encoding="utf-8")
    return config


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def in_workers(monkeypatch: pytest.MonkeyPatch, range_size: int) -> list[object]:
    """Make the next runs use parse workers that read ranges of `range_size` items
    themselves, however few items there are; the pools started, to check they were."""
    from monitor.pipeline import stored

    pools: list[object] = []
    start = stored.worker_pool

    def worker_pool(*args: Any, **kwargs: Any) -> object:
        pools.append(start(*args, **kwargs))
        return pools[-1]

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(stored, "PARALLEL_FROM", 0)
    monkeypatch.setattr(stored, "RANGE", range_size)
    monkeypatch.setattr(stored, "worker_pool", worker_pool)
    return pools

