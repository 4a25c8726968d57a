"""Reading rule packs from disk: files and directories of TOML, validated as a whole.

Every problem in every file is collected before anything is raised, and each
message names the file, the rule and the key, so that a broken pack is fixed in
one round trip and a daemon never starts with half of its rules.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.errors import RuleError
from monitor.rules.ruleset import Rule, RuleSet
from monitor.rules.schema import RuleSpec, describe_errors

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def load_rules(paths: Sequence[Path | str]) -> RuleSet:
    """Load every rule from `paths` (files, or directories whose `*.toml` files are
    read in name order); raise `RuleError` listing all problems found."""
    problems: list[str] = []
    rules: list[Rule] = []
    first_defined: dict[str, Path] = {}
    files = list(_rule_files([Path(p) for p in paths], problems))
    for path in files:
        for rule in _load_file(path, problems):
            if rule.id in first_defined:
                problems.append(
                    f"{path}: rule {rule.id!r}: key 'id': duplicate rule id (first defined in {first_defined[rule.id]})"
                )
                continue
            first_defined[rule.id] = path
            rules.append(rule)
    if not problems and not rules:
        where = ", ".join(str(p) for p in paths) or "(no paths given)"
        problems.append(f"{where}: no rules found: a rule file holds one or more [[rule]] tables")
    if problems:
        raise RuleError(problems)
    return RuleSet(tuple(rules))


def _rule_files(paths: list[Path], problems: list[str]) -> Iterator[Path]:
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.toml") if p.is_file())
            if not found:
                problems.append(f"{path}: no *.toml rule files in this directory")
        elif path.is_file():
            found = [path]
        else:
            problems.append(f"{path}: no such file or directory")
            continue
        for file in found:
            resolved = file.resolve()
            if resolved not in seen:  # the same file named twice (directly and via its directory)
                seen.add(resolved)
                yield file


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except OSError as error:
        problems.append(f"{path}: cannot read: {error.strerror or error}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_number = data[: error.start].count(b"\n") + 1
        problems.append(f"{path}: line {line_number}: not UTF-8 text (byte {error.start})")
        return None
    return _parse_toml(path, text, problems)


def _parse_toml(path: Path, text: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        if position:
            line, column = position.groups()
            problems.append(f"{path}: line {line}, column {column}: invalid TOML: {message[: position.start()]}")
        else:
            problems.append(f"{path}: invalid TOML: {message}")
        return None


def load_rules_text(text: str, name: str) -> RuleSet:
    """Rules from TOML text rather than a file (the dashboard's try-it form);
    `name` stands for the file in messages. RuleError as for `load_rules`."""
    problems: list[str] = []
    path = Path(name)
    rules = _rules_of(path, _parse_toml(path, text, problems), problems)
    if not problems and not rules:
        problems.append(f"{name}: no rules found: write one [[rule]] table")
    if problems:
        raise RuleError(problems)
    return RuleSet(tuple(rules))


def _load_file(path: Path, problems: list[str]) -> list[Rule]:
    return _rules_of(path, _read_toml(path, problems), problems)


def _rules_of(path: Path, data: dict[str, Any] | None, problems: list[str]) -> list[Rule]:
    if data is None:
        return []
    for key in data:
        if key != "rule":
            problems.append(f"{path}: key {key!r}: unknown key (a rule file holds only [[rule]] tables)")
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        problems.append(f"{path}: key 'rule': must be an array of tables: write [[rule]], not [rule] or rule = ...")
        return []
    rules = []
    for number, table in enumerate(tables, start=1):
        rule_id = table.get("id")
        label = repr(rule_id) if isinstance(rule_id, str) and rule_id else f"#{number} (no id)"
        try:
            spec = RuleSpec.model_validate(table)
        except ValidationError as error:
            problems.extend(f"{path}: rule {label}: {line}" for line in describe_errors(error))
            continue
        rules.append(spec.to_rule(path))
    return rules
