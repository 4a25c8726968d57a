"""The address guard: which IP addresses a feed fetch may connect to.

Feed URLs come from operators and, through redirects, from the feed servers
themselves. Without a guard, a feed (or a redirect, or a DNS answer that
changes between check and use) could make the daemon request the cloud
metadata service, an admin panel on the intranet, or the database on
localhost. So the decision is taken on the *resolved* address, at the moment
of connecting: `GuardedBackend` is an httpcore network backend that resolves
the host itself, asks `AddressPolicy` about every address, and connects only
to an allowed one. TLS still verifies the hostname, because httpcore passes
`server_hostname` to `start_tls` independently of the address we dialled.

This module knows nothing about HTTP semantics; `monitor.ingest.http` plugs
the backend into its client.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import anyio
import httpcore

from monitor.errors import InputError
from monitor.ingest.sockets import KeptSocketStream

__all__ = [
    "METADATA_ADDRESSES",
    "AddressPolicy",
    "AddressRefused",
    "GuardedBackend",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "refusal_reason",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Resolves (host, port) to IP address strings, in preference order.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

#: Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack IPv4, AWS IPv6).
#: They also fall in link-local / ULA space, but are named so that the refusal
#: message says what was at stake.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")

#: Special-purpose ranges named explicitly, so the verdict (and its wording) does
#: not depend on which Python's `ipaddress` tables are installed.
_SPECIAL: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = tuple(
    (label, tuple(ipaddress.ip_network(n) for n in networks))
    for label, networks in (
        ("documentation", ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")),
        ("benchmarking", ("198.18.0.0/15", "2001:2::/48")),
        ("non-global", ("192.0.0.0/24", "192.88.99.0/24", "100::/64")),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really reaches, if it carries one.

    `::ffff:10.0.0.1` is 10.0.0.1 on a dual-stack socket; 6to4, Teredo and
    NAT64 addresses also lead to an IPv4 host. Judging them as IPv6 would
    either refuse every public IPv4-mapped address or let private ones through.
    """
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address (e.g. "loopback"), or None if it is.

    This is the policy-free classification; `AddressPolicy` adds the
    operator's exceptions. The most specific name wins, so the operator reads
    "metadata" rather than "link-local" for 169.254.169.254.
    """
    if ip in METADATA_ADDRESSES:
        return "metadata"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = refusal_reason(inner)
            return None if reason is None else f"{reason} via {ip}"
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in _CGNAT, "cgnat"),
        *((any(ip in net for net in nets if net.version == ip.version), label) for label, nets in _SPECIAL),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        # Documentation, benchmarking, protocol-assignment ranges and the like.
        (not ip.is_global, "non-global"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


class AddressRefused(InputError):
    """A connection was refused by policy before any packet was sent.

    Deliberately not an httpcore/httpx exception: those are retried or
    re-mapped to generic connect errors, and the caller must be able to tell
    "the server is down" from "we will not go there".
    """

    def __init__(self, host: str, refused: Sequence[tuple[str, str]]) -> None:
        self.host = host
        self.refused = tuple(refused)
        if not refused:
            message = f"no address found for host {host}"
        else:
            plural = "address" if len(refused) == 1 else "addresses"
            listed = ", ".join(f"{addr} ({reason})" for addr, reason in refused)
            message = f"refused {plural} {listed} for host {host}"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The operator's rule: refuse non-public addresses unless allowed.

    `allow_private` lifts the guard entirely (tests, intranet deployments);
    `allowed_networks` lifts it for specific ranges only, which is what an
    operator with one internal feed server should use.
    """

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, allow_private: bool, allowed_networks: Iterable[IPNetwork | str]) -> AddressPolicy:
        """Build from config values (networks may be strings or network objects)."""
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        return cls(allow_private=allow_private, allowed_networks=networks)

    def check(self, address: IPAddress | str) -> str | None:
        """The reason `address` is refused, or None if a fetch may connect to it."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if self.allow_private:
            return None
        reason = refusal_reason(ip)
        if reason is None:
            return None
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        for candidate in candidates:
            if any(candidate in net for net in self.allowed_networks if net.version == candidate.version):
                return None
        return reason

    def split(self, addresses: Iterable[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """Partition resolved addresses into (allowed, [(refused, reason)]).

        Unparseable strings are refused rather than passed to the socket layer.
        """
        allowed: list[str] = []
        refused: list[tuple[str, str]] = []
        for address in addresses:
            try:
                reason = self.check(_strip_scope(address))
            except ValueError:
                reason = "unparseable"
            if reason is None:
                allowed.append(address)
            else:
                refused.append((address, reason))
        return allowed, refused


def _strip_scope(address: str) -> str:
    """`fe80::1%eth0` -> `fe80::1`; ipaddress in 3.11 rejects scoped literals."""
    return address.split("%", 1)[0]


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(_strip_scope(host))
    except ValueError:
        return False
    return True


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (in a worker thread, via anyio).

    Literal IPs come back unchanged without a lookup.
    """
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that refuses to dial disallowed addresses.

    It wraps another backend (AnyIO's by default) and changes one thing:
    `connect_tcp` resolves the host, checks every address with the policy and
    dials only allowed IPs, so the address checked is the address used
    (no DNS-rebinding window) and every redirect hop is covered. Its streams
    keep their socket (see `sockets`).
    """

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolve: Resolver = resolver or system_resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def resolve_allowed(self, host: str, port: int, timeout: float | None) -> list[str]:
        """Allowed addresses for `host`; raises AddressRefused when there are none."""
        if _is_ip_literal(host):
            addresses: Sequence[str] = [host]
        else:
            try:
                with anyio.fail_after(timeout):
                    addresses = await self._resolve(host, port)
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        allowed, refused = self._policy.split(addresses)
        if not allowed:
            raise AddressRefused(host, refused)
        return allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Dial the first allowed address that answers.

        The connect timeout is shared across addresses (each gets an equal
        part of what is left), so a host whose first address blackholes
        still gets a chance on the next one within the same budget.
        """
        deadline = None if timeout is None else anyio.current_time() + timeout
        allowed = await self.resolve_allowed(host, port, timeout)
        last_error: Exception | None = None
        for index, address in enumerate(allowed):
            attempt_timeout = None
            if deadline is not None:
                remaining = max(deadline - anyio.current_time(), 0.0)
                attempt_timeout = remaining / (len(allowed) - index)
            try:
                return KeptSocketStream(await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=attempt_timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                ))
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # allowed is never empty here
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never a feed location; refuse rather than delegate."""
        raise AddressRefused(path, [(path, "unix-socket")])

    async def sleep(self, seconds: float) -> None:
        """Delegated: httpcore uses it between connect retries."""
        await self._inner.sleep(seconds)
