"""One log line per event, `key=value` (logfmt) or JSON, on stderr for journald.

Feed text is untrusted: a title can carry newlines or terminal escape
sequences. Every string value is escaped before rendering, so a hostile feed
can neither forge a log line nor repaint an operator's terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from monitor.present.sanitize import log_value
from monitor.secrets import redact_urls


def escape_controls(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = log_value(value)
    return event


def redact_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Credentials in any URL of any value (a feed URL, an error naming one) never reach the log."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_urls(value)
    return event


def configure(level: str = "INFO", fmt: str = "kv", stream: TextIO | None = None) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.processors.LogfmtRenderer(key_order=["ts", "level", "event"], bool_as_flag=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.format_exc_info,
            redact_secrets,
            escape_controls,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get(name: str) -> Any:
    return structlog.get_logger(component=name)
