"""Serve the web app with uvicorn inside the daemon's own event loop.

The daemon owns the process: its signals, its logging, its loop. So uvicorn
runs as one more task in the running loop, installs no signal handlers (the
daemon's SIGTERM sets `stop`, which stops us), and configures no logging.
The socket is bound here rather than by uvicorn, which calls `sys.exit()` when
a bind fails: a port already in use must be an `OSError` the daemon can
report, not the end of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from monitor import logs
from monitor.web.settings import WebSettings

log = logs.get("web")

SHUTDOWN_GRACE_S = 5  # seconds in-flight requests get once `stop` is set


class _LoopServer(uvicorn.Server):
    """uvicorn.Server minus its signal capture (`capture_signals` since uvicorn
    0.29; `install_signal_handlers` before)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:
        pass


def bind(settings: WebSettings) -> socket.socket:
    """A listening socket on `settings.host`:`settings.port` (port 0: any free one).
    Raises OSError (address in use, bad host) with the address in the message."""
    infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    try:
        sock = socket.create_server(address, family=family, backlog=128)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(app: ASGIApp, settings: WebSettings, stop: asyncio.Event, *, sock: socket.socket | None = None) -> None:
    """Run until `stop` is set, then finish in-flight requests (a few seconds
    at most) and return. Binds `settings.host`/`port` unless given `sock`."""
    sock = sock or bind(settings)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", server_header=False,
        proxy_headers=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    server = _LoopServer(config)
    log.info("web_listening", url=url_of(sock))
    running = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        await asyncio.gather(running, return_exceptions=False)
        log.info("web_stopped")
