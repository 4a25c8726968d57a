"""The one exception a bad rule file produces."""

from __future__ import annotations

from collections.abc import Iterable


class RuleError(ValueError):
    """One or more problems in rule files, each naming file, rule, key and what is wrong.

    All problems found in one load are reported together (one per line), so an
    analyst fixing a rule pack sees every mistake at once instead of one per run.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))
