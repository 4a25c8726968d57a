"""Times as every output shows them, always in UTC: ISO 8601 for programs
(JSON, `<time datetime>`, Atom), one form for people (the CLI, email, the
dashboard), and durations.

An analyst in Geneva and an operator on a server in another zone must read the
same time for the same event, so nothing here uses local time. Stored times
are aware; a naive one is read as UTC, never as the machine's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None, *, whole_seconds: bool = False) -> str | None:
    """ISO 8601 in UTC with a `Z`. JSON keeps the full precision (attempt
    times microseconds apart stay ordered); `whole_seconds` for HTML, whose
    `<time datetime>` allows at most milliseconds."""
    if value is None:
        return None
    text = utc(value).isoformat(timespec="seconds" if whole_seconds else "auto")
    return text.replace("+00:00", "Z")


def when(value: datetime | None, missing: str = "—") -> str:
    """A time as people read it: UTC, to the minute."""
    return utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else missing


_UNITS = (("d", 2 * 86400, 86400), ("h", 3600, 3600), ("min", 60, 60))


def duration(seconds: float | None) -> str:
    """'45 s', '5 min', '1.5 h', '36 h', '3 d': how long, to a tenth of the
    unit ('?' when unknown). Hours up to two days: '36 h' reads better than '1.5 d'."""
    if seconds is None:
        return "?"
    for unit, from_size, size in _UNITS:
        if seconds >= from_size:
            return f"{seconds / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{seconds:.0f} s"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """'5 min ago' or 'in 1.5 h': how far a time is from now."""
    if value is None:
        return "never"
    seconds = (utc(value) - (utc(now) if now else datetime.now(UTC))).total_seconds()
    return f"in {duration(seconds)}" if seconds > 0 else f"{duration(-seconds)} ago"
