"""Every error press-monitor reports to a person: one base, a few kinds, and the
exit code of each kind, defined here and nowhere else.

`str(error)` is the operator's message: it names the file, key, source or
channel and what is wrong. The CLI prints it and exits with `exit_code`; the
daemon records it where an operator looks (the feed, the alert, the log).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ExitCode(IntEnum):
    """What `monitor` exits with (documented in the README)."""

    OK = 0
    BUG = 1
    """Unexpected failure: a bug (the traceback is printed; please report it)."""
    CONFIG = 2
    """Bad usage, config or rule file."""
    INPUT = 3
    """Bad input: a fixture or document that cannot be read or parsed."""
    DATABASE = 4
    """Database unreachable, corrupt or not migrated."""
    PARTIAL = 5
    """Done, but some sources or deliveries failed (each failure is recorded:
    `monitor feeds`, `monitor alerts list`)."""
    LOST = 6
    """`monitor rules test --fail-on-loss`: a candidate rule loses a match the stored rules have."""


class MonitorError(Exception):
    """Base of every error meant for a person rather than a traceback."""

    exit_code = ExitCode.BUG


class ConfigError(MonitorError):
    """A configuration problem: the config file, a secret, a channel."""

    exit_code = ExitCode.CONFIG


class RuleError(MonitorError):
    """One or more problems in rule files, each naming file, rule, key and what is wrong.

    All problems found in one load are reported together (one per line), so an
    analyst fixing a rule pack sees every mistake at once instead of one per run.
    """

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: Iterable[str] | str) -> None:
        self.problems: tuple[str, ...] = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


class InputError(MonitorError):
    """A source or fixture whose content cannot be used."""

    exit_code = ExitCode.INPUT


class DatabaseError(MonitorError):
    """The database cannot be reached, read or written."""

    exit_code = ExitCode.DATABASE


class DeliveryError(MonitorError):
    """A channel refused or failed a delivery."""

    exit_code = ExitCode.PARTIAL
