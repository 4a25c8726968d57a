"""Labelled press texts in the six UN languages and a few others, written for
these tests: which default rules each item is about (`<language>.toml`,
`mixed.toml`) and the language of short headlines (`headlines.toml`)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
UN_LANGUAGES = ("ar", "zh", "en", "fr", "es", "ru")


@dataclass(frozen=True)
class Labelled:
    """One labelled item: `rules` are the default rules it is about ([] for a look-alike)."""

    file: str
    number: int
    language: str
    rules: frozenset[str]
    title: str
    text: str
    matched: tuple[str, ...] | None  # every mention the pack must report, in order, if given
    note: str

    @property
    def id(self) -> str:
        return f"{self.file}-{self.number}"


def items() -> list[Labelled]:
    found = []
    for path in sorted(HERE.glob("*.toml")):
        if path.stem == "headlines":
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for number, entry in enumerate(data["item"], start=1):
            found.append(Labelled(
                file=path.stem, number=number, language=entry.get("language", data.get("language", "")),
                rules=frozenset(entry["rules"]), title=entry.get("title", ""), text=entry["text"],
                matched=tuple(entry["matched"]) if "matched" in entry else None, note=entry.get("note", ""),
            ))  # fmt: skip
    return found


def headlines() -> dict[str, list[str]]:
    """Language code -> headlines in it."""
    data = tomllib.loads((HERE / "headlines.toml").read_text(encoding="utf-8"))
    return {language: list(lines) for language, lines in data.items()}
