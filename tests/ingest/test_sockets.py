"""KeptSocketStream: what httpcore's pool asks of an idle connection, answered from the kept socket."""

from __future__ import annotations

import socket
import time

import anyio
import httpcore

from monitor.ingest.sockets import KeptSocketStream


def test_an_idle_connection_is_seen_closed_once_the_server_closes_it() -> None:
    async def main() -> None:
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            stream = KeptSocketStream(await httpcore.AnyIOBackend().connect_tcp("127.0.0.1", port))
            accepted, _ = server.accept()
            assert stream.get_extra_info("socket").fileno() >= 0
            assert stream.get_extra_info("is_readable") is False  # idle and open: reusable
            accepted.sendall(b"x")
            assert await stream.read(1) == b"x"
            accepted.close()
            deadline = time.monotonic() + 5
            while not stream.get_extra_info("is_readable") and time.monotonic() < deadline:
                await anyio.sleep(0.01)
            assert stream.get_extra_info("is_readable") is True  # the server hung up: do not reuse
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)  # the rest passes through
            await stream.aclose()

    anyio.run(main)
