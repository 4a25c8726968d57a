"""Fixtures for the rules engine: rule files written to tmp_path, the shipped pack
compiled once, and a one-call way to scan a text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.items import Hit, Item
from monitor.rules import Matcher, compile_rules, load_rules

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "config" / "rules"
SEEDS = ROOT / "seeds"

WriteRules = Callable[..., Path]
Scan = Callable[..., list[Hit]]


def item(text: str, title: str = "") -> Item:
    return Item(source="test:", guid="g", title=title, text=text)


@pytest.fixture
def write_rules(tmp_path: Path) -> WriteRules:
    """Write a rule file and return its path: `write_rules(body, name="r.toml")`."""

    def write(body: str, name: str = "rules.toml") -> Path:
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return path

    return write


@pytest.fixture
def matcher_for(write_rules: WriteRules) -> Callable[[str], Matcher]:
    """Compile a matcher from one rule file's body."""

    def build(body: str) -> Matcher:
        return compile_rules(load_rules([write_rules(body)]))

    return build


@pytest.fixture(scope="session")
def pack() -> Matcher:
    """The shipped default rule pack, compiled once for the whole session."""
    return compile_rules(load_rules([PACK]))


@pytest.fixture
def scan() -> Scan:
    """`scan(matcher, text, title="")`: the hits, each checked to point at its characters."""

    def run(matcher: Matcher, text: str, title: str = "") -> list[Hit]:
        hits = matcher.scan(item(text, title))
        for hit in hits:
            source = text if hit.field == "text" else title
            assert source[hit.start : hit.end] == hit.matched, hit
        return hits

    return run
