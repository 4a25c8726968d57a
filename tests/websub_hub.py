"""A real WebSub hub on 127.0.0.1, and the reverse proxy a subscriber sits behind,
for tests and the benchmark.

The hub follows the W3C WebSub Recommendation from the hub's side, written from
the spec and not from `monitor.websub`, so a misreading there cannot agree with
itself: a subscription request (form POST) is answered 202 at once, then the
intent is verified on another thread (GET on the callback with a random
`hub.challenge`, which must come back as the body of a 2xx answer). `publish`
delivers content to every verified subscriber of a topic, signed with
`X-Hub-Signature: <method>=<hex HMAC of the body>` under the subscriber's
`hub.secret`, with the `Link` headers the spec asks for.

    with LocalHub(lease_s=3) as hub:
        ...                                   # a feed names hub.url as its hub
        hub.wait_subscribed(topic)            # verified by the subscriber
        hub.publish(topic, body)              # [202]: one answer per subscriber
        hub.publish(topic, body, sign="bad")  # a signature under the wrong secret
        hub.gone()                            # stops listening: connection refused

`ReverseProxy` stands where `web.public_url` points. The daemon binds port 0 and
logs where it listens; the proxy is bound first (so the public URL is known
before the daemon starts, with no port to guess) and holds requests until told
where to forward them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["LocalHub", "ReverseProxy", "deliver"]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass
class Request:
    """A subscription request as the hub received it."""

    fields: dict[str, str]
    at: float

    @property
    def mode(self) -> str:
        return self.fields.get("hub.mode", "")

    @property
    def callback(self) -> str:
        return self.fields.get("hub.callback", "")

    @property
    def topic(self) -> str:
        return self.fields.get("hub.topic", "")


@dataclass
class Subscription:
    callback: str
    topic: str
    secret: str | None
    lease_s: int
    verified_at: float
    renewals: int = 0  # verified requests after the first

    @property
    def expires_at(self) -> float:
        return self.verified_at + self.lease_s


@dataclass
class Verification:
    callback: str
    mode: str
    status: int | None  # None: the callback could not be reached
    confirmed: bool  # 2xx with the challenge echoed


@dataclass
class _State:
    requests: list[Request] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    subscriptions: dict[tuple[str, str], Subscription] = field(default_factory=dict)


class LocalHub:
    """`lease_s`: the lease the hub grants whatever is asked (None: what is asked, else
    a day); `deny`: refuse every subscription with this reason (hub.mode=denied);
    `answer`: the status of the answer to a subscription request (202 = accepted)."""

    def __init__(self, *, lease_s: int | None = None, deny: str | None = None, answer: int = 202) -> None:
        self.lease_s = lease_s
        self.deny = deny
        self.answer = answer
        self._state = _State()
        self._connections: set[socket.socket] = set()  # kept alive by clients; `gone` cuts them
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with hub._lock:
                    hub._connections.add(self.connection)

            def finish(self) -> None:
                with hub._lock:
                    hub._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
                request = Request(fields, time.time())
                with hub._changed:
                    hub._state.requests.append(request)
                    hub._changed.notify_all()
                valid = request.mode in ("subscribe", "unsubscribe") and request.callback and request.topic
                status = hub.answer if valid else 400
                reply = b"" if 200 <= status < 300 else b"subscription refused by the test hub"
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                if valid and 200 <= status < 300:  # verification is asynchronous (WebSub 5.3)
                    threading.Thread(target=hub._verify, args=(request,), daemon=True).start()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hub"
        self._stopped = False

    # subscriptions ---------------------------------------------------------------

    def _verify(self, request: Request) -> None:
        if self.deny is not None:
            params = {"hub.mode": "denied", "hub.topic": request.topic, "hub.reason": self.deny}
            status, _ = _get(request.callback, params)
            self._record(Verification(request.callback, "denied", status, False))
            return
        asked = request.fields.get("hub.lease_seconds", "")
        lease = self.lease_s or (int(asked) if asked.isdigit() else 86_400)
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
        if request.mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        status, body = _get(request.callback, params)
        confirmed = status is not None and 200 <= status < 300 and body == challenge.encode()
        with self._changed:
            self._state.verifications.append(Verification(request.callback, request.mode, status, confirmed))
            key = (request.callback, request.topic)
            if confirmed and request.mode == "subscribe":
                previous = self._state.subscriptions.get(key)
                self._state.subscriptions[key] = Subscription(
                    request.callback, request.topic, request.fields.get("hub.secret"), lease, time.time(),
                    renewals=previous.renewals + 1 if previous else 0,
                )
            elif confirmed:
                self._state.subscriptions.pop(key, None)
            self._changed.notify_all()

    def _record(self, verification: Verification) -> None:
        with self._changed:
            self._state.verifications.append(verification)
            self._changed.notify_all()

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._state.requests)

    @property
    def verifications(self) -> list[Verification]:
        with self._lock:
            return list(self._state.verifications)

    def subscribed(self, topic: str) -> list[Subscription]:
        """The verified subscriptions to `topic` whose lease is running."""
        now = time.time()
        with self._lock:
            return [s for s in self._state.subscriptions.values() if s.topic == topic and s.expires_at > now]

    def wait(self, predicate: Any, timeout: float = 20.0) -> Any:
        """Until `predicate(self)` is true (its value), or AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while not (value := predicate(self)):
            if time.monotonic() > deadline:
                raise AssertionError(f"hub: condition not met within {timeout}s; requests: {self.requests}, "
                                     f"verifications: {self.verifications}")
            with self._changed:
                self._changed.wait(0.05)
        return value

    def wait_subscribed(self, topic: str, timeout: float = 20.0) -> Subscription:
        return self.wait(lambda hub: next(iter(hub.subscribed(topic)), None), timeout)

    # content distribution -----------------------------------------------------------

    def publish(self, topic: str, body: bytes, *, content_type: str = "application/rss+xml",
                sign: str = "good", algorithm: str = "sha256") -> list[int]:
        """Deliver `body` to every verified subscriber of `topic`; their answers' statuses.

        `sign`: "good" (HMAC under the subscriber's secret), "bad" (under another
        secret), "none" (no X-Hub-Signature header), "garbled" (not method=hex)."""
        return [
            deliver(s.callback, body, secret=s.secret, sign=sign, algorithm=algorithm,
                    headers={"Content-Type": content_type, "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"'})
            for s in self.subscribed(topic)
        ]

    # lifecycle ------------------------------------------------------------------------

    def gone(self) -> None:
        """Stop listening: from now on the hub's address refuses connections."""
        if not self._stopped:
            self._stopped = True
            self._server.shutdown()
            self._server.server_close()
            with self._lock:
                for connection in self._connections:  # a kept-alive connection must not outlive the hub
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.gone()
        self._thread.join(5)


def deliver(callback: str, body: bytes, *, secret: str | None, sign: str = "good", algorithm: str = "sha256",
            headers: dict[str, str] | None = None) -> int:
    """POST `body` to a subscriber's callback as a hub does; the answer's status."""
    headers = dict(headers or {})
    if sign == "good" and secret is not None:
        headers["X-Hub-Signature"] = f"{algorithm}={hmac.new(secret.encode(), body, algorithm).hexdigest()}"
    elif sign == "bad":
        headers["X-Hub-Signature"] = f"{algorithm}={hmac.new(b'not the secret', body, algorithm).hexdigest()}"
    elif sign == "garbled":
        headers["X-Hub-Signature"] = "sha256:" + hashlib.sha256(body).hexdigest()
    status, _ = _request("POST", callback, body, headers)
    assert status is not None, f"the callback {callback} could not be reached"
    return status


def _get(url: str, params: dict[str, str]) -> tuple[int | None, bytes]:
    separator = "&" if urlsplit(url).query else "?"
    return _request("GET", f"{url}{separator}{urlencode(params)}", None, {})


def _request(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int | None, bytes]:
    """One request with http.client (no proxy from the environment); (status, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=30)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return None, b""
    finally:
        connection.close()


class ReverseProxy:
    """Forwards every request to `upstream` (set later with `forward_to`) and its answer back."""

    def __init__(self, wait_s: float = 60.0) -> None:
        self._upstream: str | None = None
        self._ready = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not proxy._ready.wait(wait_s):
                    self.send_error(502, "no upstream")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                parts = urlsplit(proxy._upstream or "")
                connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=60)
                try:
                    connection.request(self.command, self.path, body=body if body else None, headers=headers)
                    response = connection.getresponse()
                    answer = response.read()
                except OSError:
                    self.send_error(502, "upstream unreachable")
                    return
                finally:
                    connection.close()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def forward_to(self, upstream: str) -> None:
        self._upstream = upstream
        self._ready.set()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._ready.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
