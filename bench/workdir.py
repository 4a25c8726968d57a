"""Files a benchmark run needs on disk: the daemon config, the OPML feed list,
the extra rule file and the replay fixtures, all in one temporary directory."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from bench.corpus import DEFAULT_RULES, extra_terms, iter_fixture_texts, rules_toml


def write_opml(path: Path, urls: Sequence[str]) -> Path:
    outlines = "\n".join(
        f"<outline type=\"rss\" text={quoteattr(f'feed {n}')} xmlUrl={quoteattr(url)}/>"
        for n, url in enumerate(urls)
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0"><head><title>bench feeds</title></head>'
        f"<body>\n{outlines}\n</body></opml>\n",
        encoding="utf-8",
    )
    return path


def _toml_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON scalars and lists of them are TOML too


def write_config(
    directory: Path,
    *,
    name: str = "monitor.toml",
    database: Path,
    opml: Path | None = None,
    rules: Sequence[Path] = (DEFAULT_RULES,),
    log_level: str = "INFO",
    fetch: Mapping[str, Any] | None = None,
    schedule: Mapping[str, Any] | None = None,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    routes: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """A daemon config like the shipped example, pointing at the bench's server and database.

    Only what a deployment on this machine would change is set: the database,
    the feed list, the rules, and permission to fetch from 127.0.0.0/8 (refused
    by default). Everything else keeps its default unless `fetch`/`schedule`
    say otherwise; `tables` adds sections such as `channels.bench`.
    """
    sections: dict[str, Mapping[str, Any]] = {
        "database": {"url": f"sqlite:///{database}"},
        "rules": {"paths": [str(p) for p in rules]},
        "log": {"level": log_level, "format": "kv"},
        "fetch": {"allowed_networks": ["127.0.0.0/8"], **(fetch or {})},
        "schedule": dict(schedule or {}),
        **(tables or {}),
    }
    lines = [f"state_dir = {_toml_value(str(directory / 'state'))}"]
    if opml is not None:
        lines.append(f"opml = [{_toml_value(str(opml))}]")
    for section, values in sections.items():
        lines.append(f"\n[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    for route in routes:
        lines.append("\n[[routes]]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in route.items()]
    path = directory / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite database, including what is still in its WAL file
    (copying the main file alone can miss the last commits)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


def write_extra_rules(directory: Path, count: int = 1_000) -> tuple[Path, list[str]]:
    """A rule file with `count` extra watch terms; returns it and the terms."""
    terms = extra_terms(count)
    path = directory / "extra-rules.toml"
    path.write_text(rules_toml(terms), encoding="utf-8")
    return path, terms


def write_fixtures(directory: Path, count: int) -> Path:
    """`count` distinct .txt press fixtures in `directory`/fixtures."""
    root = directory / "fixtures"
    root.mkdir(parents=True, exist_ok=True)
    for serial, text in enumerate(iter_fixture_texts(count)):
        (root / f"{serial:06d}.txt").write_text(text, encoding="utf-8")
    return root
