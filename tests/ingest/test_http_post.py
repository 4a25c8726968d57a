"""`Fetcher.post_form`, the request to a WebSub hub: the same client and the same
limits as a feed fetch (the hub's URL comes from feed content), against real
servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from monitor.ingest.http import Fetcher, FetchError
from tests.ingest.test_http import settings
from tests.websub_hub import LocalHub

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def answering(answer: Callable[[BaseHTTPRequestHandler, bytes], None]) -> Iterator[str]:
    """A server whose POST handler is `answer(handler, body)`; its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        seen: list[tuple[dict[str, str], bytes]] = []

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            Handler.seen.append((dict(self.headers.items()), body))
            answer(self, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hub"
    finally:
        server.shutdown()
        server.server_close()


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None):
    def answer(handler: BaseHTTPRequestHandler, _: bytes) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


async def test_a_form_reaches_the_hub_with_our_user_agent() -> None:
    seen: list[tuple[str, bytes]] = []

    def answer(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        seen.append((handler.headers.get("User-Agent", ""), body))
        reply(202)(handler, body)

    with answering(answer) as url:
        async with Fetcher(settings()) as fetcher:
            posted = await fetcher.post_form(url, {"hub.mode": "subscribe", "hub.topic": "https://a.example/?x=1&y"})
    assert posted.status == 202
    (agent, body), = seen
    assert agent.startswith("press-monitor/") and "https://example.org/contact" in agent
    assert parse_qs(body.decode()) == {"hub.mode": ["subscribe"], "hub.topic": ["https://a.example/?x=1&y"]}


async def test_the_local_hub_accepts_a_subscription_request() -> None:
    with LocalHub() as hub:
        async with Fetcher(settings()) as fetcher:
            posted = await fetcher.post_form(hub.url, {"hub.mode": "subscribe", "hub.topic": "t",
                                                       "hub.callback": "http://127.0.0.1:9/cb"})
        assert posted.status == 202
        assert [r.topic for r in hub.requests] == ["t"]


async def test_a_refusal_says_what_the_hub_said() -> None:
    with answering(reply(400, b"  hub.topic\n is not\tallowed here ")) as url:
        async with Fetcher(settings()) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.post_form(url, {"hub.mode": "subscribe"})
    assert caught.value.kind == "http" and caught.value.status == 400
    assert str(caught.value) == "HTTP 400 Bad Request: hub.topic is not allowed here"


async def test_a_redirect_is_not_followed() -> None:
    with answering(reply(307, headers={"Location": "http://127.0.0.1:9/elsewhere"})) as url:
        async with Fetcher(settings()) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.post_form(url, {"hub.mode": "subscribe"})
    assert caught.value.kind == "redirects"


async def test_a_hub_at_a_refused_address_is_never_contacted() -> None:
    with LocalHub() as hub:
        async with Fetcher(settings(allowed_networks=[])) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.post_form(hub.url, {"hub.mode": "subscribe", "hub.topic": "t", "hub.callback": "c"})
        assert caught.value.kind == "blocked"
        assert hub.requests == []


async def test_a_hub_that_never_answers_costs_the_deadline() -> None:
    def stall(handler: BaseHTTPRequestHandler, _: bytes) -> None:
        time.sleep(3)

    with answering(stall) as url:
        async with Fetcher(settings(deadline_s=0.5, read_timeout_s=5)) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.post_form(url, {"hub.mode": "subscribe"})
    assert caught.value.kind == "timeout"


async def test_a_long_answer_is_cut_not_read_whole() -> None:
    huge = b"x" * (1024 * 1024)
    with answering(reply(202, huge)) as url:
        async with Fetcher(settings()) as fetcher:
            posted = await fetcher.post_form(url, {"hub.mode": "subscribe"})
    assert posted.status == 202 and posted.text == ""


async def test_a_hub_that_is_down_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        async with Fetcher(settings()) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.post_form(f"http://127.0.0.1:{port}/hub", {"hub.mode": "subscribe"})
    assert caught.value.kind == "connect"
