"""KeptSocketStream: what httpcore's pool asks of an idle connection, answered from the kept socket."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time

import anyio
import httpcore
import trustme

from monitor.ingest.netguard import AddressPolicy, GuardedBackend
from monitor.ingest.sockets import KeptSocketStream
from tests.ingest.test_netguard import static_resolver


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


def test_tls_connections_through_the_guarded_backend_are_reused() -> None:
    """The fetcher's path over TLS: GuardedBackend dials, KeptSocketStream wraps the
    TCP stream and then the TLS one; two requests share one connection."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    connections: list[object] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            connections.append(self.connection)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    async def main() -> list[bytes]:
        backend = GuardedBackend(AddressPolicy(allow_private=True), resolver=static_resolver(["127.0.0.1"]))
        async with httpcore.AsyncConnectionPool(ssl_context=client_context, network_backend=backend) as pool:
            url = f"https://localhost:{httpd.server_address[1]}/"
            return [(await pool.request("GET", url)).content for _ in range(2)]

    try:
        assert anyio.run(main) == [b"ok", b"ok"]
    finally:
        httpd.shutdown()
    assert len(connections) == 2 and connections[0] is connections[1]  # kept alive and reused
