"""Which rules produced a hit: the version of a rule set.

The version's id is a hash of the rules as loaded and validated (every field
that decides a match: terms, clauses, exclusions, languages, fields), not of
the files' bytes: a comment or a reordered file changes nothing, a changed
term does. Each rule has a digest of its own, so two versions tell which rules
were added, removed or changed. The files and their modification times are
recorded beside the id, so an operator can tell which file a version came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from monitor.rules.ruleset import Rule, RuleSet

ID_CHARS = 12  # hex digits shown and stored: enough to tell versions apart


@dataclass(frozen=True, slots=True)
class RulesVersion:
    id: str
    rules: Mapping[str, str]  # rule id -> digest of that rule
    files: tuple[tuple[str, str], ...] = ()  # (file, modification time, ISO UTC)


@dataclass(frozen=True, slots=True)
class RuleChanges:
    """How one version differs from the one before it."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def rule_digest(rule: Rule) -> str:
    """A digest of what decides the rule's matches (its file is not part of it)."""
    parts = [f"{f.name}={_canonical(getattr(rule, f.name))}" for f in fields(rule) if f.name != "source_file"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def version_of(ruleset: RuleSet) -> RulesVersion:
    """The version of `ruleset`, with its files' modification times (a stat each)."""
    digests = {rule.id: rule_digest(rule) for rule in ruleset}
    whole = hashlib.sha256("\n".join(f"{i}:{d}" for i, d in sorted(digests.items())).encode()).hexdigest()
    files = sorted({str(rule.source_file) for rule in ruleset})
    return RulesVersion(whole[:ID_CHARS], digests, tuple((name, _mtime(name)) for name in files))


def changes(previous: Mapping[str, str] | None, current: Mapping[str, str]) -> RuleChanges:
    """What changed from `previous` (per-rule digests; None: nothing known) to `current`."""
    if previous is None:
        return RuleChanges()
    return RuleChanges(
        added=tuple(sorted(set(current) - set(previous))),
        removed=tuple(sorted(set(previous) - set(current))),
        changed=tuple(sorted(r for r in set(current) & set(previous) if current[r] != previous[r])),
    )


def _canonical(value: object) -> str:
    """The same text for equal values, whatever the order of sets."""
    if isinstance(value, frozenset | set):
        return "{" + ",".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_canonical(v) for v in value) + ")"
    if hasattr(value, "__dataclass_fields__"):
        return "<" + ",".join(f"{f.name}={_canonical(getattr(value, f.name))}" for f in fields(value)) + ">"
    return repr(value)


def _mtime(name: str) -> str:
    try:
        return datetime.fromtimestamp(Path(name).stat().st_mtime, UTC).isoformat(timespec="seconds")
    except OSError:
        return "?"
