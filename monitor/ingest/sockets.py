"""A network stream that answers httpcore's pool cheaply.

httpcore's pool asks each idle connection for its socket whenever a request
starts or ends, and AnyIO's stream rebuilds a table of attribute getters to
answer (see bench/README.md for what that cost). This stream looks the socket
up once and keeps it; everything else is passed through.
"""

from __future__ import annotations

import select
import ssl
import typing

import httpcore

__all__ = ["KeptSocketStream"]


class KeptSocketStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: typing.Any = inner.get_extra_info("socket")  # asyncio wraps it in a TransportSocket

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return KeptSocketStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "socket":
            return self._socket
        if info == "is_readable":  # an idle keep-alive connection: has the server closed it?
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: typing.Any) -> bool:
    """Data (or the end of the stream) is waiting; a socket that is gone counts as readable."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
