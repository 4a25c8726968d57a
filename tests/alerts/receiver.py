"""A real webhook receiver on 127.0.0.1 for tests: scripted answers, and a
Standard Webhooks verifier written independently of monitor.alerts.signing
(from the spec: HMAC-SHA256 over "id.timestamp.body", key = base64 after
"whsec_"), so a bug in our signing cannot verify itself.

    with WebhookReceiver(secret="whsec_…", script=[500, 500]) as rx:
        ...              # first two requests get 500, the rest 200
        rx.received      # every request: headers, body, complete? verified?

A sender killed mid-request (SIGKILL) can leave only its headers, or part of
its body, on the wire: httpx writes them separately. Such a request is kept
with `complete=False` and is neither answered nor verified (there is nothing
whole to verify); a test asserts signatures on the complete ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

TOLERANCE_S = 300


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool  # False for an incomplete request too: see `complete`
    status: int | None  # None: incomplete, not answered
    complete: bool = True  # the whole body declared by Content-Length arrived

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] | None = None
    body: bytes = b""
    block: bool = False  # hold the request until `release()` (or the server stops), then hang up
    hold: bool = False  # hold the request until `release()`, then answer with `status`


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    try:
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split(" ")
    except KeyError:
        return False
    if abs(time.time() - int(ts)) > TOLERANCE_S:
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], expected) for s in signatures)


class WebhookReceiver:
    def __init__(self, secret: str | None = None, script: Iterable[int | Answer] = ()) -> None:
        self.secret = secret
        self.script: deque[Answer] = deque(a if isinstance(a, Answer) else Answer(a) for a in script)
        self.received: list[Received] = []
        self.arrived = threading.Event()  # a blocking or held request has arrived
        self._release = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle_one_request(self) -> None:
                """A sender killed between requests resets its kept-alive connection: normal here."""
                try:
                    super().handle_one_request()
                except (ConnectionResetError, BrokenPipeError, TimeoutError):
                    self.close_connection = True

            def do_POST(self) -> None:
                declared = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(declared)  # short when the sender died mid-request
                headers = {k.lower(): v for k, v in self.headers.items()}
                if len(body) < declared:
                    with receiver._lock:
                        receiver.received.append(Received(headers, body, False, None, complete=False))
                    self.close_connection = True
                    return
                with receiver._lock:
                    answer = receiver.script.popleft() if receiver.script else Answer()
                    ok = receiver.secret is None or verify(receiver.secret, headers, body)
                    status = answer.status if ok else 401
                    receiver.received.append(Received(headers, body, ok, status))
                if answer.block or answer.hold:
                    receiver.arrived.set()
                    while not (receiver._release.is_set() or receiver._stopping.is_set()):
                        time.sleep(0.02)
                    if answer.block or receiver._stopping.is_set():
                        self.close_connection = True
                        return
                try:
                    self.send_response(status)
                    for name, value in (answer.headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def complete(self) -> list[Received]:
        """The requests that arrived whole (what a real receiver would act on)."""
        with self._lock:
            return [r for r in self.received if r.complete]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/press?token=s3cret"

    def release(self) -> None:
        self._release.set()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
