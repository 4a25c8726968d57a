"""The address guard's decisions, and that the backend enforces them before dialling.

Only loopback addresses ever see traffic here: non-loopback targets
(10.0.0.1, the metadata service, ...) are checked through the pure decision
function or a backend whose inner dialler is a recording stub.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Iterator, Sequence

import anyio
import httpcore
import pytest

from monitor.ingest.netguard import (
    AddressPolicy,
    AddressRefused,
    GuardedBackend,
    refusal_reason,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


REFUSED = [
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("127.0.0.1", "loopback"),
    ("127.0.0.2", "loopback"),
    ("::1", "loopback"),
    ("169.254.10.20", "link-local"),
    ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.254", "cgnat"),
    ("240.0.0.1", "reserved"),
    ("192.0.0.8", "non-global"),
    ("192.0.2.10", "documentation"),
    ("2001:db8::1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    # IPv6 forms that reach an IPv4 host are judged by that host.
    ("::ffff:10.0.0.1", "private via ::ffff:a00:1"),
    ("::ffff:169.254.169.254", "metadata via ::ffff:a9fe:a9fe"),
    ("64:ff9b::a00:1", "private via 64:ff9b::a00:1"),
    ("2002:7f00:1::", "loopback via 2002:7f00:1::"),
]

PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1"]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_non_public_addresses_are_refused_by_default(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason
    assert AddressPolicy().check(address) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None
    assert AddressPolicy().check(address) is None


def test_allow_private_lifts_the_guard() -> None:
    policy = AddressPolicy.from_settings(True, [])
    assert all(policy.check(address) is None for address, _ in REFUSED)


def test_allowed_networks_lift_only_their_range() -> None:
    policy = AddressPolicy.from_settings(False, ["10.1.2.0/24", ipaddress.ip_network("::1/128")])
    assert policy.check("10.1.2.3") is None
    assert policy.check("10.1.3.1") == "private"
    assert policy.check("::1") is None
    assert policy.check("127.0.0.1") == "loopback"
    assert policy.check("169.254.169.254") == "metadata"


def test_allowed_network_also_covers_its_ipv4_mapped_form() -> None:
    policy = AddressPolicy.from_settings(False, ["127.0.0.1/32"])
    assert policy.check("::ffff:127.0.0.1") is None
    assert policy.check("::ffff:127.0.0.2") is not None


def test_split_keeps_order_and_refuses_garbage() -> None:
    policy = AddressPolicy.from_settings(False, ["127.0.0.1/32"])
    allowed, refused = policy.split(["10.0.0.1", "127.0.0.1", "not-an-ip", "8.8.8.8"])
    assert allowed == ["127.0.0.1", "8.8.8.8"]
    assert refused == [("10.0.0.1", "private"), ("not-an-ip", "unparseable")]


def test_refusal_message_names_address_reason_and_host() -> None:
    assert (
        str(AddressRefused("example.org", [("10.0.0.1", "private")]))
        == "refused address 10.0.0.1 (private) for host example.org"
    )
    assert "refused addresses 10.0.0.1 (private), ::1 (loopback)" in str(
        AddressRefused("x.test", [("10.0.0.1", "private"), ("::1", "loopback")])
    )


# --- the backend ----------------------------------------------------------------


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Stands in for the real dialler: records what would have been dialled."""

    def __init__(self) -> None:
        self.dialled: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialled.append((host, port))
        return httpcore.AsyncMockStream([])


def static_resolver(answer: Sequence[str]) -> typing.Callable[[str, int], typing.Awaitable[Sequence[str]]]:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return answer

    return resolve


async def test_backend_refuses_before_dialling_a_private_answer() -> None:
    """DNS rebinding: the name is harmless, the answer is not; nothing is dialled."""
    inner = RecordingBackend()
    backend = GuardedBackend(AddressPolicy(), resolver=static_resolver(["169.254.169.254"]), inner=inner)
    with pytest.raises(AddressRefused, match=r"169\.254\.169\.254 \(metadata\) for host feeds\.example"):
        await backend.connect_tcp("feeds.example", 80)
    assert inner.dialled == []


async def test_backend_dials_the_checked_ip_not_the_name() -> None:
    """Dialling the name again would resolve twice: the second answer could differ."""
    inner = RecordingBackend()
    resolver = static_resolver(["10.0.0.1", "93.184.216.34"])
    backend = GuardedBackend(AddressPolicy(), resolver=resolver, inner=inner)
    await backend.connect_tcp("feeds.example", 443)
    assert inner.dialled == [("93.184.216.34", 443)]


async def test_backend_checks_ip_literals_without_resolving() -> None:
    async def resolver(host: str, port: int) -> Sequence[str]:
        raise AssertionError("literal addresses must not be resolved")

    inner = RecordingBackend()
    backend = GuardedBackend(AddressPolicy(), resolver=resolver, inner=inner)
    with pytest.raises(AddressRefused, match="10.0.0.1 \\(private\\)"):
        await backend.connect_tcp("10.0.0.1", 80)
    await backend.connect_tcp("8.8.8.8", 80)
    assert inner.dialled == [("8.8.8.8", 80)]


async def test_slow_resolution_is_a_connect_timeout() -> None:
    async def resolver(host: str, port: int) -> Sequence[str]:
        await anyio.sleep(5)
        return ["8.8.8.8"]

    backend = GuardedBackend(AddressPolicy(), resolver=resolver, inner=RecordingBackend())
    with anyio.fail_after(2), pytest.raises(httpcore.ConnectTimeout):
        await backend.connect_tcp("feeds.example", 80, timeout=0.1)


async def test_unix_sockets_are_refused() -> None:
    backend = GuardedBackend(AddressPolicy(allow_private=True), inner=RecordingBackend())
    with pytest.raises(AddressRefused):
        await backend.connect_unix_socket("/run/docker.sock")


@pytest.fixture
def listener_127_0_0_2() -> Iterator[socket.socket]:
    """A real listening socket on 127.0.0.2 (still this machine's loopback)."""
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


async def test_real_dial_only_to_allowed_loopback(listener_127_0_0_2: socket.socket) -> None:
    port = listener_127_0_0_2.getsockname()[1]
    guarded = GuardedBackend(AddressPolicy.from_settings(False, ["127.0.0.1/32"]))
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.2 \(loopback\)"):
        await guarded.connect_tcp("127.0.0.2", port, timeout=1)
    with pytest.raises(BlockingIOError):
        listener_127_0_0_2.accept()  # no connection ever arrived

    allowed = GuardedBackend(AddressPolicy.from_settings(False, ["127.0.0.2/32"]))
    stream = await allowed.connect_tcp("127.0.0.2", port, timeout=1)
    try:
        with anyio.fail_after(1):
            while True:
                try:
                    conn, _ = listener_127_0_0_2.accept()
                    conn.close()
                    break
                except BlockingIOError:
                    await anyio.sleep(0.01)
    finally:
        await stream.aclose()


async def test_system_resolver_answers_for_localhost() -> None:
    guarded = GuardedBackend(AddressPolicy.from_settings(False, ["127.0.0.1/32"]))
    assert await guarded.resolve_allowed("localhost", 80, timeout=2) == ["127.0.0.1"]
