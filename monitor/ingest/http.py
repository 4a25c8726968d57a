"""The live retriever: fetch a feed's bytes over HTTP, within hard limits.

It knows nothing about parsing or storage. Its job is to make every fetch
cheap for us and polite to the feed operator, whatever the server does:

* conditional GET (ETag / Last-Modified), so an unchanged feed costs a 304
  on a kept-alive connection and no parsing;
* connect and read timeouts, plus a total deadline per fetch: httpx has no
  overall deadline, and a server trickling one byte per second would
  otherwise hold a worker forever;
* a cap on the *decompressed* body, enforced while streaming. httpx's own
  decoders inflate a whole network chunk at once, so a 10 MB gzip bomb could
  allocate gigabytes; we read raw bytes and inflate with a bounded output
  size ourselves;
* redirects followed by hand, counted, and never with their bodies read
  (httpx would read a redirect's body in full, through the same unbounded
  decoders);
* the address guard of `monitor.ingest.netguard`, enforced when connecting,
  so redirects and DNS answers cannot lead us into the private network;
* a global and a per-host concurrency limit, so one slow site cannot starve
  the rest.

Every failure is a `FetchError` whose `kind` tells the scheduler how to react
and whose text tells the operator what happened, in one line.

`post_form` sends the one other request we make, a form POST to a WebSub hub
(whose URL comes from feed content, so it is exactly as untrusted): the same
client, guard, limits and User-Agent, no redirects, a small answer cap.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import re
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Literal, Self, TypeVar

import httpcore
import httpx

import monitor
from monitor.config import FetchSettings
from monitor.errors import InputError
from monitor.ingest.netguard import AddressPolicy, AddressRefused, GuardedBackend, Resolver

__all__ = [
    "ACCEPT_HTML",
    "Conditional",
    "FetchError",
    "FetchErrorKind",
    "Fetched",
    "Fetcher",
    "Posted",
    "freshness_lifetime",
    "parse_retry_after",
]

T = TypeVar("T")
FetchErrorKind = Literal["timeout", "too-large", "redirects", "blocked", "http", "connect", "tls", "protocol"]

ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
#: What article and listing pages are fetched with.
ACCEPT_HTML: Final = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
#: Only what we can inflate with a bounded output size ourselves.
ACCEPT_ENCODING: Final = "gzip, deflate"
#: Largest piece inflated at once; bounds the transient memory of decoding.
INFLATE_CHUNK: Final = 64 * 1024
#: How much of an error or redirect body we read so the connection can be reused.
DRAIN_LIMIT: Final = 64 * 1024
DRAIN_SECONDS: Final = 0.5
#: How much of the answer to a form POST we read: hubs answer with a line of text.
POST_ANSWER_LIMIT: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Conditional:
    """Validators from the previous successful fetch of the same feed."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful fetch: a body to parse (2xx), or "unchanged" (304, body None)."""

    url: str
    status: int
    body: bytes | None
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None
    max_age_s: float | None
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class Posted:
    """A form POST the server accepted (2xx): its status and what it said."""

    url: str
    status: int
    text: str  # the answer's first line or so, whitespace collapsed


class FetchError(InputError):
    """A fetch that produced no usable response; `str()` is the operator's one line.

    `kind` is what the scheduler branches on (back off, retry later, give up);
    `retry_after_s` is the server's own request on 429/503; `gone` marks a
    410, after which the feed should stop being polled.
    """

    def __init__(
        self,
        kind: FetchErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FetchErrorKind = kind
        self.status = status
        self.retry_after_s = retry_after_s
        self.gone = status == 410

    def __repr__(self) -> str:
        return f"FetchError({self.kind!r}, {str(self)!r}, status={self.status!r})"


class Fetcher:
    """One long-lived HTTP client for all feed fetches.

    Keep one per process: the connection pool lives as long as the Fetcher,
    which is what makes a 304 cost one round trip on an existing connection.
    `resolver` replaces the system DNS resolver (tests, custom DNS); every
    address it returns still goes through the address guard.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        version: str = monitor.__version__,
        resolver: Resolver | None = None,
    ) -> None:
        self._settings = settings
        policy = AddressPolicy.from_settings(settings.allow_private_addresses, settings.allowed_networks)
        limits = httpx.Limits(
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
            keepalive_expiry=30.0,
        )
        transport = _GuardedTransport(GuardedBackend(policy, resolver=resolver), limits=limits)
        self._client = httpx.AsyncClient(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_s,
                read=settings.read_timeout_s,
                write=settings.read_timeout_s,
                pool=settings.connect_timeout_s,
            ),
            headers={
                "User-Agent": f"press-monitor/{version} (+{settings.contact_url})",
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            cookies=_no_cookies(),
        )
        self._global = asyncio.Semaphore(settings.concurrency)
        self._hosts = _HostLimiter(settings.per_host_concurrency)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def fetch(
        self, url: str, conditional: Conditional = Conditional(), credentials: Mapping[str, str] | None = None,
        *, accept: str = ACCEPT, max_bytes: int | None = None,
    ) -> Fetched:
        """Fetch `url`; return its body (or a 304) or raise FetchError. `credentials`:
        request headers sent to `url`'s origin only, never across a redirect to another.
        `accept`: what we ask for (feeds by default; `ACCEPT_HTML` for pages);
        `max_bytes`: a smaller cap than the configured one, for this fetch.

        The per-host slot is taken before the global one: a fetch queued
        behind a slow host must not sit on a global slot other hosts could use.
        The deadline starts once both slots are held, so queueing is not
        counted against the server. The host slot is the one of the URL asked
        for; redirect hops to other hosts run under it.
        """
        cap = min(max_bytes or self._settings.max_body_bytes, self._settings.max_body_bytes)
        return await self._limited(
            url, lambda: self._fetch(url, conditional, time.monotonic(), credentials or {}, accept, cap)
        )

    async def _limited(self, url: str, request: Callable[[], Awaitable[T]]) -> T:
        """Run `request` holding the URL's host slot and a global slot, within the
        deadline (started once both are held), every failure a FetchError."""
        host = _host_of(url)
        async with self._hosts.slot(host), self._global:
            deadline = self._settings.deadline_s
            try:
                async with asyncio.timeout(deadline):
                    return await request()
            except TimeoutError:
                raise FetchError("timeout", f"deadline of {deadline:g}s exceeded") from None
            except AddressRefused as exc:
                raise FetchError("blocked", str(exc)) from exc
            except httpx.HTTPError as exc:
                raise _map_httpx_error(exc, self._settings) from exc

    async def post_form(self, url: str, fields: Mapping[str, str]) -> Posted:
        """POST `fields` form-encoded to `url`; a 2xx answer or FetchError.

        Same slots, deadline, address guard and error kinds as `fetch`. A redirect
        is not followed (re-sending a form elsewhere is the server's to ask, not
        ours to guess) and fails as kind "redirects"; a non-2xx answer fails as
        kind "http" with the start of what the server said."""
        return await self._limited(url, lambda: self._post(url, fields))

    async def _post(self, url: str, fields: Mapping[str, str]) -> Posted:
        request = self._client.build_request("POST", url, data=dict(fields), headers={"Accept": "*/*"})
        response = await self._client.send(request, stream=True)
        try:
            status = response.status_code
            if response.next_request is not None:
                await _drain(response)
                raise FetchError("redirects", f"HTTP {status}: redirected, not followed for a POST", status=status)
            try:
                body = await _read_capped(response, POST_ANSWER_LIMIT)
            except FetchError as exc:
                if exc.kind != "too-large":
                    raise
                body = b""  # an answer too long to show is still an answer
            text = " ".join(body[:512].decode("utf-8", errors="replace").split())[:200]
            if not 200 <= status < 300:
                error = _status_error(response)
                raise FetchError("http", f"{error}: {text}" if text else str(error), status=status,
                                 retry_after_s=error.retry_after_s)
            return Posted(str(response.url), status, text)
        finally:
            await response.aclose()

    async def _fetch(
        self, url: str, conditional: Conditional, started: float, credentials: Mapping[str, str], accept: str,
        cap: int,
    ) -> Fetched:
        """Follow redirects by hand, then read the final response under the cap."""
        headers: dict[str, str] = {**credentials, "Accept": accept}
        if conditional.etag:
            headers["If-None-Match"] = conditional.etag
        if conditional.last_modified:
            headers["If-Modified-Since"] = conditional.last_modified
        request = self._client.build_request("GET", url, headers=headers)
        redirects = 0
        while True:
            response = await self._client.send(request, stream=True)
            try:
                next_request = response.next_request
                if next_request is None:
                    return await self._complete(response, conditional, started, cap)
                redirects += 1
                if redirects > self._settings.max_redirects:
                    raise FetchError("redirects", f"too many redirects ({self._settings.max_redirects})")
                await _drain(response)
            finally:
                await response.aclose()
            if credentials and _origin(next_request.url) != _origin(httpx.URL(url)):
                for name in credentials:  # httpx drops only Authorization, and only this hop
                    next_request.headers.pop(name, None)
            request = next_request

    async def _complete(
        self, response: httpx.Response, conditional: Conditional, started: float, cap: int
    ) -> Fetched:
        """Turn the final response into Fetched, or raise for its status."""
        status = response.status_code
        if status == 304:
            await _drain(response)  # empty, but must be read for the connection to be reused
            # A 304 need not repeat the validators; the ones we sent are still current.
            return self._fetched(response, None, started, fallback=conditional)
        if not 200 <= status < 300:
            await _drain(response)
            raise _status_error(response)
        body = await _read_capped(response, cap)
        return self._fetched(response, body, started)

    def _fetched(
        self,
        response: httpx.Response,
        body: bytes | None,
        started: float,
        fallback: Conditional = Conditional(),
    ) -> Fetched:
        headers = response.headers
        return Fetched(
            url=str(response.url),
            status=response.status_code,
            body=body,
            headers=headers,
            etag=headers.get("ETag") or fallback.etag,
            last_modified=headers.get("Last-Modified") or fallback.last_modified,
            max_age_s=freshness_lifetime(headers),
            elapsed_s=time.monotonic() - started,
        )


# --- transport ------------------------------------------------------------


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's default transport, on a connection pool that dials through the guard.

    httpx 0.28 offers no public way to pass an httpcore network backend to its
    transport, so the pool it built is replaced by an identical one that has
    our backend. If a future httpx stops having that pool, we fail at
    construction rather than fetch unguarded.
    """

    def __init__(self, backend: GuardedBackend, *, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits, retries=0)
        pool = getattr(self, "_pool", None)
        if not isinstance(pool, httpcore.AsyncConnectionPool):
            raise TypeError("unsupported httpx version: cannot install the address guard")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that accepts nothing: one feed's cookies must never reach another."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class _HostLimiter:
    """Semaphores keyed by host, dropped when idle so the map does not grow forever."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        semaphore, users = self._slots.get(host, (None, 0))
        if semaphore is None:
            semaphore = asyncio.Semaphore(self._limit)
        self._slots[host] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            _, users = self._slots[host]
            if users <= 1:
                del self._slots[host]
            else:
                self._slots[host] = (semaphore, users - 1)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _host_of(url: str) -> str:
    """The per-host limiter key (host:port, IDNA-encoded); invalid URLs fail here."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError("protocol", f"invalid URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError("protocol", f"not an http(s) URL: {url!r}")
    return f"{parsed.raw_host.decode('ascii')}:{parsed.port or ''}"


# --- body -----------------------------------------------------------------


class _Inflater:
    """Incremental gzip/deflate decoding whose output per step is bounded.

    zlib's `max_length` caps each output piece; whatever input it did not get
    to waits in `unconsumed_tail`. So memory is bounded by the cap we enforce
    on the accumulated output, never by the compression ratio.
    """

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._decoder: zlib._Decompress | None = None
        self._trailing = False
        self._head = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Inflate `data`, yielding pieces of at most INFLATE_CHUNK bytes."""
        while data and not self._trailing:
            if self._decoder is None:
                # The format sniff below needs two bytes; a trickling server may send one.
                data = self._head + data
                if len(data) < 2:
                    self._head = data
                    return
                self._decoder = zlib.decompressobj(self._choose_wbits(data))
            elif self._decoder.eof:
                # Concatenated gzip members are one body (RFC 1952 2.2); anything
                # else after the end (padding, junk) is ignored, as browsers do.
                if self._encoding != "gzip" or not data.startswith(b"\x1f"):
                    self._trailing = True
                    return
                self._decoder = zlib.decompressobj(self._wbits)
            decoder = self._decoder
            while True:
                try:
                    piece = decoder.decompress(data, INFLATE_CHUNK)
                except zlib.error as exc:
                    raise FetchError("protocol", f"corrupt {self._encoding} body: {exc}") from None
                if piece:
                    yield piece
                data = decoder.unconsumed_tail
                if decoder.eof:
                    data = decoder.unused_data
                    break
                if not data and len(piece) < INFLATE_CHUNK:
                    return

    def finish(self) -> Iterator[bytes]:
        """Flush what zlib still holds (at most a window); a stream cut short is an error."""
        if self._decoder is None:
            if self._head:
                raise FetchError("protocol", f"truncated {self._encoding} body")
            return
        if piece := self._decoder.flush():
            yield piece
        if not self._decoder.eof:
            raise FetchError("protocol", f"truncated {self._encoding} body")

    def _choose_wbits(self, data: bytes) -> int:
        """'deflate' is zlib-wrapped per the RFC, but some servers send raw deflate."""
        if self._encoding == "deflate" and not _looks_like_zlib(data):
            return -zlib.MAX_WBITS
        return self._wbits


def _looks_like_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    """Read the body, decompressing ourselves, and stop as soon as it exceeds `cap`."""
    too_large = FetchError("too-large", f"body exceeds {cap} bytes")
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise too_large
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    inflater: _Inflater | None
    if encoding in ("", "identity"):
        inflater = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _Inflater("deflate" if encoding == "deflate" else "gzip")
    else:
        raise FetchError("protocol", f"unsupported Content-Encoding {encoding!r}")
    body = bytearray()
    raw_seen = 0
    async for raw in response.aiter_raw():
        raw_seen += len(raw)
        # Compressed input larger than the cap is hostile even if it inflates to little.
        if raw_seen > cap:
            raise too_large
        pieces = (raw,) if inflater is None else inflater.feed(raw)
        for piece in pieces:
            if len(body) + len(piece) > cap:
                raise too_large
            body += piece
    if inflater is not None:
        for piece in inflater.finish():
            if len(body) + len(piece) > cap:
                raise too_large
            body += piece
    return bytes(body)


async def _drain(response: httpx.Response) -> None:
    """Read a small unwanted body so the connection can go back to the pool.

    httpcore only reuses a connection whose response was read to the end,
    even an empty one (a 304). A large or unannounced body is abandoned
    instead (closing the response closes the connection): reconnecting is
    cheaper than downloading it. Draining gets a short budget of its own, so
    a server dribbling an error page cannot turn "HTTP 500" into a timeout.
    """
    declared = response.headers.get("Content-Length")
    bodiless = response.status_code in (204, 304)
    if not bodiless and (declared is None or not declared.strip().isdigit() or int(declared) > DRAIN_LIMIT):
        return
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            seen = 0
            async for raw in response.aiter_raw():
                seen += len(raw)
                if seen > DRAIN_LIMIT:
                    return
    except (TimeoutError, httpx.HTTPError):
        return  # the connection is simply not reused


# --- status and errors ----------------------------------------------------


def _status_error(response: httpx.Response) -> FetchError:
    status = response.status_code
    reason = httpx.codes.get_reason_phrase(status) or response.reason_phrase or "Unknown"
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))
    message = f"HTTP {status} {reason}"
    if retry_after is not None:
        message += f" (retry after {retry_after:g}s)"
    return FetchError("http", message, status=status, retry_after_s=retry_after)


def _map_httpx_error(exc: httpx.HTTPError, settings: FetchSettings) -> FetchError:
    """Translate httpx's exception zoo into our kinds, with a readable line."""
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError("timeout", f"connect timeout after {settings.connect_timeout_s:g}s")
    if isinstance(exc, httpx.ReadTimeout):
        return FetchError("timeout", f"read timeout: no data for {settings.read_timeout_s:g}s")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError("timeout", f"timeout: {_detail(exc)}")
    if isinstance(exc, (httpx.ConnectError, httpx.NetworkError)):
        if _caused_by(exc, ssl.SSLError):
            return FetchError("tls", f"TLS error: {_detail(exc)}")
        what = "cannot connect" if isinstance(exc, httpx.ConnectError) else "connection failed"
        return FetchError("connect", f"{what}: {_detail(exc)}")
    return FetchError("protocol", f"protocol error: {_detail(exc)}")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _detail(exc: BaseException) -> str:
    """The innermost non-empty message, on one line."""
    text = ""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        text = str(seen) or text
        seen = seen.__cause__ or seen.__context__
    text = text or type(exc).__name__
    return " ".join(text.split())


# --- header parsing -------------------------------------------------------

_DIRECTIVE = re.compile(r"\s*([A-Za-z-]+)\s*(?:=\s*\"?(\d+)\"?)?\s*")


def freshness_lifetime(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long the server says the response stays fresh, in seconds, or None.

    Cache-Control wins over Expires (RFC 9111 4.2.1): no-store/no-cache mean
    0; max-age (else s-maxage) minus Age. Otherwise Expires minus Date (the
    server's clock on both sides, so our clock skew does not matter); an
    unparseable Expires means "already expired".
    """
    cache_control = headers.get("Cache-Control")
    if cache_control:
        directives: dict[str, int | None] = {}
        for part in cache_control.split(","):
            match = _DIRECTIVE.fullmatch(part)
            if match:
                name, value = match.group(1).lower(), match.group(2)
                directives[name] = int(value) if value is not None else None
        if "no-store" in directives or "no-cache" in directives:
            return 0.0
        for name in ("max-age", "s-maxage"):
            value = directives.get(name)
            if value is not None:
                age = headers.get("Age", "0").strip()
                return float(max(value - (int(age) if age.isdigit() else 0), 0))
    expires = headers.get("Expires")
    if expires is None:
        return None
    expires_at = _http_date(expires)
    if expires_at is None:
        return 0.0
    reference = _http_date(headers.get("Date")) or now or datetime.now(UTC)
    return max((expires_at - reference).total_seconds(), 0.0)


def parse_retry_after(
    value: str | None, date: str | None = None, now: datetime | None = None
) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (vs. the server's Date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    reference = _http_date(date) or now or datetime.now(UTC)
    return max((when - reference).total_seconds(), 0.0)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
