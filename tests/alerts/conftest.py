"""Real servers for alert tests: aiosmtpd for SMTP (optionally with STARTTLS
and a test CA from trustme), a webhook receiver, and configs routing the
default rule pack to them."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.conftest import RULES

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Sink:
    """The aiosmtpd handler: keeps every message it accepts."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        self.messages.append((envelope, message_from_bytes(raw, policy=policy.default)))  # type: ignore[arg-type]
        return "250 2.0.0 Ok: queued as TEST"

    @property
    def emails(self) -> list[EmailMessage]:
        return [m for _, m in self.messages]


class _BoundController(Controller):
    """aiosmtpd serving a socket bound in advance (see SmtpServer)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class SmtpServer:
    """aiosmtpd on 127.0.0.1. The port is bound (by the kernel, port 0) when the
    object is made, so it is ours before anyone connects, with no window in which
    another test could take it; until `start()` nothing listens and connections
    are refused, like an SMTP server that is down."""

    def __init__(self, **kwargs: Any) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.sink = Sink()
        self._kwargs = kwargs
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = _BoundController(self.sink, self._sock, **self._kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        self._sock.close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def toml_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Path):
        return json.dumps(str(value))
    return json.dumps(value)


def write_config(
    tmp_path: Path,
    db_url: str,
    *,
    channels: Mapping[str, Mapping[str, Any]],
    routes: list[Mapping[str, Any]],
    alerts: Mapping[str, Any] | None = None,
    name: str = "monitor.toml",
) -> Path:
    """A config with the shipped rules, this test's database, fast retries."""
    settings = {"dispatch_tick_s": 0.2, "lease_s": 5, "retry_schedule_s": [0.2, 0.2, 0.2], "jitter": 0.0,
                **(alerts or {})}
    lines = [
        f'state_dir = {toml_value(tmp_path / "state")}',
        f"[database]\nurl = {toml_value(db_url)}",
        f"[rules]\npaths = [{toml_value(RULES)}]",
        '[log]\nlevel = "WARNING"',
        "[schedule]\nparse_workers = 0",
        "[web]\nport = 0",  # tests run side by side: never the fixed default port
        "[alerts]", *(f"{k} = {toml_value(v)}" for k, v in settings.items()),
    ]
    for channel, values in channels.items():
        lines.append(f"[channels.{channel}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    for route in routes:
        lines.append("[[routes]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in route.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def email_channel(port: int, **extra: Any) -> dict[str, Any]:
    return {"type": "email", "to": ["desk@example.org"], "from": "press-monitor <alerts@example.org>",
            "smtp_host": "127.0.0.1", "smtp_port": port, "security": "none", "timeout_s": 3, **extra}


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def server_context(ca: Any, *names: str) -> ssl.SSLContext:
    """A server-side TLS context with a certificate from the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(context)
    return context
