"""A real HTTP/1.1 feed server on 127.0.0.1, for tests and benchmarks.

Tests of the fetcher must run against real sockets: keep-alive reuse,
timeouts, chunked bodies, gzip on the wire and redirects are exactly what a
mock transport would fake away. This server runs the stdlib
ThreadingHTTPServer in a background thread on an ephemeral port.

It serves registered feeds (ETag / Last-Modified / 304, optional gzip or
deflate, optional delay), counts requests per path and connections, and has
named hostile endpoints (see `HOSTILE`) that misbehave the ways real servers
do: trickling, stalling, huge or bomb-compressed bodies, redirect loops,
error statuses, non-HTTP garbage.

The hot path (a registered feed) does one dict lookup and one buffered write
of headers plus body, with TCP_NODELAY, so a benchmark measures the client.
In-process it shares the GIL with the client under test; a benchmark that
wants clean numbers runs it in its own process: `python -m tests.feedserver`.

    with FeedServer() as server:
        url = server.add_feed("/a.xml", feed_xml([...]))
        bomb = server.hostile_url("gzip-bomb")           # 10 GiB inflated, chunked
        small = server.hostile_url("gzip-bomb", mib=512, declared=1)
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

__all__ = ["HOSTILE", "FeedServer", "entity_expansion_xml", "feed_xml", "many_entries_xml"]

MiB = 1024 * 1024

#: Named misbehaving endpoints; `FeedServer.hostile_url(name)` builds their URLs.
HOSTILE: Mapping[str, str] = {
    "slow": "/hostile/slow",  # 200, then one byte every `interval` s (default 0.1)
    "stall": "/hostile/stall",  # headers and a few bytes, then silence
    "huge": "/hostile/huge",  # 50 MB, chunked (no Content-Length), generated lazily (?size=)
    "huge-declared": "/hostile/huge-declared",  # 50 MB with Content-Length
    "gzip-bomb": "/hostile/gzip-bomb",  # ~10 MB gzip -> 10 GiB of zeros, chunked (?mib=, ?declared=1)
    "redirect-loop": "/hostile/redirect-loop",  # a -> b -> a -> ...
    "redirect": "/hostile/redirect",  # 302 to ?to=<url> (status via ?status=)
    "html": "/hostile/html",  # 200 text/html: a web page, not a feed
    "malformed": "/hostile/malformed",  # 200 application/rss+xml, broken XML
    "404": "/hostile/404",
    "500": "/hostile/500",
    "429": "/hostile/429",  # Retry-After: 120
    "503": "/hostile/503",  # Retry-After: <HTTP date 120 s ahead>
    "410": "/hostile/410",
    "304": "/hostile/304",  # a bare 304, no ETag or Last-Modified, whatever was asked
    "garbage": "/hostile/garbage",  # not HTTP at all
}


def feed_xml(
    items: Iterable[Mapping[str, Any]],
    *,
    title: str = "Test feed",
    link: str = "https://example.org/",
    description: str = "A feed served by tests/feedserver.py",
) -> bytes:
    """An RSS 2.0 document from dicts with title, link, guid, description, pubDate.

    Every key is optional; pubDate may be a datetime (naive = UTC) or a string
    used as is. Text is XML-escaped, so seed texts with `&` and quotes are safe.
    """
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link>",
        f"<description>{escape(description)}</description>",
    ]
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "description"):
            if item.get(key) is not None:
                parts.append(f"<{key}>{escape(str(item[key]))}</{key}>")
        if item.get("guid") is not None:
            parts.append(f'<guid isPermaLink="false">{escape(str(item["guid"]))}</guid>')
        published = item.get("pubDate")
        if isinstance(published, datetime):
            aware = published if published.tzinfo else published.replace(tzinfo=UTC)
            published = email.utils.format_datetime(aware.astimezone(UTC), usegmt=True)
        if published is not None:
            parts.append(f"<pubDate>{escape(str(published))}</pubDate>")
        parts.append("</item>")
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


def entity_expansion_xml(*, value_chars: int = 10_000, references: int = 50_000, loose: bool = True) -> bytes:
    """RSS declaring one internal entity of `value_chars` characters, referenced
    `references` times in one description (the adversarial review's 160 KB document
    that expanded to 500 M characters). `loose`: an undefined entity in the channel
    title sends feedparser from expat to its loose parser."""
    title = "Expansion &undefined;" if loose else "Expansion"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY a "{"x" * value_chars}">\n]>\n'
        f'<rss version="2.0"><channel><title>{title}</title><link>https://example.org/</link>'
        f'<item><title>ILO statement</title><guid>bomb</guid><description>{"&a;" * references}'
        "</description></item></channel></rss>\n"
    ).encode("utf-8")


def many_entries_xml(entries: int, *, text_chars: int = 0) -> bytes:
    """Plain RSS 2.0 with `entries` distinct items (the review's 7.1 MB, 50,000-entry feed)."""
    filler = "Statement on cooperation and human rights. " * (text_chars // 43 + 1)
    return feed_xml(
        {"title": f"Item {n}", "guid": f"item-{n}", "link": f"https://press.example/{n}",
         "description": filler[:text_chars]}
        for n in range(entries)
    )


@dataclass(slots=True)
class _Feed:
    """A registered document with its validators and precompressed variants."""

    body: bytes
    content_type: str
    validators: bool
    delay: float
    encoding: str | None
    cache_control: str | None
    headers: dict[str, str]
    etag: str = ""
    last_modified: float = 0.0
    encoded: bytes = b""
    gate: threading.Event | None = None  # `hold()`: answer only once it is set

    def set_body(self, body: bytes, previous_modified: float = 0.0) -> None:
        self.body = body
        self.etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        # Last-Modified has one-second resolution: a publish in the same second
        # must still look newer to a client that only sends If-Modified-Since.
        self.last_modified = max(float(int(time.time())), previous_modified + 1.0)
        if self.encoding == "gzip":
            self.encoded = gzip.compress(body, mtime=0)
        elif self.encoding == "deflate":
            self.encoded = zlib.compress(body)
        else:
            self.encoded = body


@dataclass(slots=True)
class _Stats:
    requests: dict[str, int] = field(default_factory=dict)
    arrivals: dict[str, list[float]] = field(default_factory=dict)  # time.time() of each request
    last_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    per_connection: dict[int, int] = field(default_factory=dict)
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


class _Bomb:
    """A gzip stream of zeros, produced lazily from one repeated compressed segment.

    After a Z_FULL_FLUSH the compressor forgets its history, so compressing
    the same 1 MiB of zeros again yields the very same bytes: the stream is
    header + segment * n + end-of-stream + trailer, built in milliseconds and
    sent without ever holding more than one batch. Only the CRC needs the
    whole length, and it is computed only if a client reads that far.
    """

    _segment: ClassVar[bytes | None] = None
    _end: ClassVar[bytes] = b""
    _crc_cache: ClassVar[dict[int, int]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()
    HEADER: ClassVar[bytes] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"

    @classmethod
    def segment(cls) -> bytes:
        with cls._lock:
            if cls._segment is None:
                compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
                first = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
                again = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
                assert first == again, "zlib output after a full flush is not repeatable"
                cls._end = compressor.flush(zlib.Z_FINISH)
                cls._segment = first
            return cls._segment

    @classmethod
    def length(cls, mebibytes: int) -> int:
        return len(cls.HEADER) + len(cls.segment()) * mebibytes + len(cls._end) + 8

    @classmethod
    def trailer(cls, mebibytes: int) -> bytes:
        with cls._lock:
            crc = cls._crc_cache.get(mebibytes)
            if crc is None:
                zeros, crc = bytes(MiB), 0
                for _ in range(mebibytes):
                    crc = zlib.crc32(zeros, crc)
                cls._crc_cache[mebibytes] = crc
        return struct.pack("<II", crc, (mebibytes * MiB) & 0xFFFFFFFF)

    @classmethod
    def pieces(cls, mebibytes: int, batch: int = 64) -> Iterable[bytes]:
        segment = cls.segment()
        yield cls.HEADER
        full, rest = divmod(mebibytes, batch)
        block = segment * batch
        for _ in range(full):
            yield block
        if rest:
            yield segment * rest
        yield cls._end + cls.trailer(mebibytes)


class _ClientGone(Exception):
    """The client closed the connection (or the server is stopping)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffered writes: headers and body leave in one send(); flushed per response.
    wbufsize = 64 * 1024
    timeout = 30  # idle keep-alive connections are dropped after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_id = self.server.app._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.app._connection_closed(self.connection_id)

    def handle_one_request(self) -> None:
        """A client hanging up mid-response is normal here (we test that); stay quiet."""
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: the default writes a stderr line per request."""

    def do_GET(self) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        path = split.path
        app._request_started(path, self.connection_id, self.headers.items())
        try:
            feed = app._feeds.get(path)
            if feed is not None:
                self._serve_feed(feed)
                return
            target = app._redirects.get(path)
            if target is not None:
                self._send_simple(target[1], b"", "text/plain", {"Location": target[0]})
                return
            if path == "/feeds.opml":
                self._send_simple(200, app.opml(), "text/x-opml; charset=utf-8")
                return
            hostile = _HOSTILE_HANDLERS.get(path)
            if hostile is not None:
                hostile(self, parse_qs(split.query))
                return
            self._send_simple(404, b"not found\n", "text/plain")
        except (_ClientGone, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            app._request_finished()

    # -- helpers ---------------------------------------------------------

    def _send_simple(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _serve_feed(self, feed: _Feed) -> None:
        if feed.gate is not None:
            self._wait_for(feed.gate)
        if feed.delay:
            self._wait(feed.delay)
        if feed.validators and self._not_modified(feed):
            self.send_response(304)
            self._validator_headers(feed)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        accepts = (self.headers.get("Accept-Encoding") or "").lower()
        use_encoding = feed.encoding is not None and feed.encoding in accepts
        body = feed.encoded if use_encoding else feed.body
        self.send_response(200)
        self.send_header("Content-Type", feed.content_type)
        self.send_header("Content-Length", str(len(body)))
        if use_encoding:
            self.send_header("Content-Encoding", str(feed.encoding))
        if feed.validators:
            self._validator_headers(feed)
        for name, value in feed.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _validator_headers(self, feed: _Feed) -> None:
        self.send_header("ETag", feed.etag)
        self.send_header("Last-Modified", email.utils.formatdate(feed.last_modified, usegmt=True))
        if feed.cache_control:
            self.send_header("Cache-Control", feed.cache_control)

    def _not_modified(self, feed: _Feed) -> bool:
        """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or feed.etag in tags
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                parsed = email.utils.parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
            return feed.last_modified <= parsed.timestamp()
        return False

    def _write(self, data: bytes) -> None:
        """Write and flush now (streaming endpoints), noticing a stopped server."""
        if self.server.app._stopping.is_set():
            raise _ClientGone
        self.wfile.write(data)
        self.wfile.flush()

    def _wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, ending early if the client hangs up or we stop.

        A handler blocked in time.sleep would outlive both, holding a thread.
        """
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._pause(min(left, 0.05))

    def _wait_for(self, gate: threading.Event) -> None:
        """Wait until `gate` is set, ending early if the client hangs up or we stop."""
        while not gate.is_set():
            self._pause(0.02)

    def _pause(self, seconds: float) -> None:
        if self.server.app._stopping.is_set():
            raise _ClientGone
        readable, _, _ = select.select([self.connection], [], [], seconds)
        if readable:
            try:
                peeked = self.connection.recv(1, socket.MSG_PEEK)
            except OSError:
                raise _ClientGone from None
            if not peeked:
                raise _ClientGone
            time.sleep(seconds)  # pipelined data, not a hang-up

    def _start_chunked(
        self, status: int, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunked(self) -> None:
        self._write(b"0\r\n\r\n")


# -- hostile endpoints -------------------------------------------------------

_Query = dict[str, list[str]]
_FILLER = (b"<!-- filler: this is not a feed, it is a very large body -->\n" * 1100)[: 64 * 1024]


def _param(query: _Query, name: str, default: float) -> float:
    values = query.get(name)
    return float(values[0]) if values else default


def _slow(handler: _Handler, query: _Query) -> None:
    interval = _param(query, "interval", 0.1)
    size = int(_param(query, "size", 10_000))
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    for _ in range(size):
        handler._write(b" ")
        handler._wait(interval)


def _stall(handler: _Handler, query: _Query) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler._write(b"<?xml vers")
    handler._wait(_param(query, "seconds", 60.0))
    handler.close_connection = True


def _huge(handler: _Handler, query: _Query) -> None:
    size = int(_param(query, "size", 50_000_000))
    handler._start_chunked(200, "application/rss+xml")
    sent = 0
    while sent < size:
        block = _FILLER[: size - sent]
        handler._chunk(block)
        sent += len(block)
    handler._end_chunked()


def _huge_declared(handler: _Handler, query: _Query) -> None:
    size = int(_param(query, "size", 50_000_000))
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    sent = 0
    while sent < size:
        block = _FILLER[: size - sent]
        handler._write(block)
        sent += len(block)


def _gzip_bomb(handler: _Handler, query: _Query) -> None:
    mebibytes = int(_param(query, "mib", 10 * 1024))
    declared = bool(_param(query, "declared", 0))
    headers = {"Content-Encoding": "gzip"}
    if declared:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(_Bomb.length(mebibytes)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        for piece in _Bomb.pieces(mebibytes):
            handler._write(piece)
        return
    handler._start_chunked(200, "application/rss+xml", headers)
    for piece in _Bomb.pieces(mebibytes):
        handler._chunk(piece)
    handler._end_chunked()


def _redirect_loop(handler: _Handler, query: _Query) -> None:
    hop = "b" if query.get("at", ["a"])[0] == "a" else "a"
    location = f"{HOSTILE['redirect-loop']}?at={hop}"
    handler._send_simple(302, b"", "text/plain", {"Location": location})


def _redirect(handler: _Handler, query: _Query) -> None:
    status = int(_param(query, "status", 302))
    handler._send_simple(status, b"", "text/plain", {"Location": query["to"][0]})


def _status(
    status: int, headers: Callable[[], dict[str, str]] | None = None
) -> Callable[[_Handler, _Query], None]:
    def respond(handler: _Handler, query: _Query) -> None:
        body = f"{status} from the hostile feed server\n".encode()
        handler._send_simple(status, body, "text/plain", headers() if headers else None)

    return respond


def _not_modified(handler: _Handler, query: _Query) -> None:
    handler.send_response(304)
    handler.end_headers()


def _html(handler: _Handler, query: _Query) -> None:
    body = (
        b"<!doctype html><html><head><title>Welcome</title></head>"
        b"<body><h1>Our feeds have moved</h1><p>Please see our website.</p></body></html>"
    )
    handler._send_simple(200, body, "text/html; charset=utf-8")


def _malformed(handler: _Handler, query: _Query) -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & bad</title><item><title>Unclosed'
    )
    handler._send_simple(200, body, "application/rss+xml")


def _garbage(handler: _Handler, query: _Query) -> None:
    handler._write(b"SSH-2.0-OpenSSH_9.0 this is not HTTP\r\n\r\n")
    handler.close_connection = True


_HOSTILE_HANDLERS: dict[str, Callable[[_Handler, _Query], None]] = {
    HOSTILE["slow"]: _slow,
    HOSTILE["stall"]: _stall,
    HOSTILE["huge"]: _huge,
    HOSTILE["huge-declared"]: _huge_declared,
    HOSTILE["gzip-bomb"]: _gzip_bomb,
    HOSTILE["redirect-loop"]: _redirect_loop,
    HOSTILE["redirect"]: _redirect,
    HOSTILE["html"]: _html,
    HOSTILE["malformed"]: _malformed,
    HOSTILE["404"]: _status(404),
    HOSTILE["500"]: _status(500),
    HOSTILE["429"]: _status(429, lambda: {"Retry-After": "120"}),
    HOSTILE["503"]: _status(
        503, lambda: {"Retry-After": email.utils.formatdate(time.time() + 120, usegmt=True)}
    ),
    HOSTILE["410"]: _status(410),
    HOSTILE["304"]: _not_modified,
    HOSTILE["garbage"]: _garbage,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a benchmark opens many connections at once
    app: FeedServer


class FeedServer:
    """The server's control surface: register feeds, read counters, start/stop.

    The socket is bound on construction, so the port and URLs are known before
    `start()`; a FeedServer serves once (start, then stop).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._feeds: dict[str, _Feed] = {}
        self._redirects: dict[str, tuple[str, int]] = {}
        self._stats = _Stats()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: dict[int, socket.socket] = {}
        self._next_connection_id = 0
        _Bomb.segment()  # precompute once, outside any test's memory measurement
        self._server = _Server((host, port), _Handler)
        self._server.app = self
        self._port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        """Serve from a daemon thread."""
        if self._thread is not None or self._stopping.is_set():
            raise RuntimeError("a FeedServer serves once")
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="feedserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection (idle keep-alive ones too)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets = list(self._open.values())
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str, host: str | None = None) -> str:
        """Absolute URL for `path`; `host` swaps the hostname (e.g. "localhost")."""
        return f"http://{host or self._host}:{self._port}{path}"

    def hostile_url(self, name: str, host: str | None = None, **params: str | float) -> str:
        """URL of a named hostile endpoint (see HOSTILE), with query parameters."""
        query = f"?{urlencode(params)}" if params else ""
        return self.url(HOSTILE[name] + query, host)

    def redirect_url(self, to: str, status: int = 302) -> str:
        """A URL that redirects once to `to` (any URL, also another host or port)."""
        return self.url(f"{HOSTILE['redirect']}?to={quote(to, safe='')}&status={status}")

    # -- content -----------------------------------------------------------

    def add_feed(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml; charset=utf-8",
        *,
        validators: bool = True,
        delay: float = 0.0,
        encoding: str | None = None,
        cache_control: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Serve `body` at `path`; returns its URL.

        validators: send ETag/Last-Modified and answer conditional requests with 304.
        delay: seconds to wait before answering (a slow but honest server).
        encoding: "gzip" or "deflate", used when the client accepts it.
        """
        if encoding not in (None, "gzip", "deflate"):
            raise ValueError(f"unsupported encoding {encoding!r}")
        feed = _Feed(
            body=b"",
            content_type=content_type,
            validators=validators,
            delay=delay,
            encoding=encoding,
            cache_control=cache_control,
            headers=dict(headers or {}),
        )
        feed.set_body(body)
        self._feeds[path] = feed
        return self.url(path)

    def publish(self, path: str, body: bytes) -> None:
        """Replace the body at `path`: new ETag, newer Last-Modified."""
        feed = self._feeds[path]
        replacement = _Feed(
            body=b"",
            content_type=feed.content_type,
            validators=feed.validators,
            delay=feed.delay,
            encoding=feed.encoding,
            cache_control=feed.cache_control,
            headers=feed.headers,
            gate=feed.gate,
        )
        replacement.set_body(body, previous_modified=feed.last_modified)
        self._feeds[path] = replacement  # one atomic swap: readers never see half an update

    def set_delay(self, path: str, seconds: float) -> None:
        self._feeds[path].delay = seconds

    def hold(self, path: str) -> None:
        """Requests for `path` arrive (and are counted) but get no answer until
        `release(path)`: a slow server whose slowness the test controls, instead
        of a delay that a loaded machine may stretch or a fast one outrun."""
        self._feeds[path].gate = threading.Event()

    def release(self, path: str) -> None:
        """Answer the held requests for `path`, and later ones at once."""
        gate = self._feeds[path].gate
        if gate is not None:
            gate.set()

    def redirect(self, path: str, target: str, status: int = 302) -> str:
        """Answer `path` with a redirect to `target` (absolute or relative)."""
        self._redirects[path] = (target, status)
        return self.url(path)

    def opml(self) -> bytes:
        """OPML 2.0 listing every registered feed (what /feeds.opml serves)."""
        outlines = "".join(
            f'<outline type="rss" text={quoteattr(path)} xmlUrl={quoteattr(self.url(path))}/>'
            for path in sorted(self._feeds)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0"><head>'
            f"<title>feedserver</title></head><body>{outlines}</body></opml>\n"
        ).encode()

    # -- counters ----------------------------------------------------------

    def requests(self, path: str) -> int:
        """Requests received for `path` (query string ignored)."""
        return self._stats.requests.get(path, 0)

    def arrivals(self, path: str) -> list[float]:
        """When each request for `path` arrived (`time.time()`), oldest first."""
        with self._lock:
            return list(self._stats.arrivals.get(path, []))

    def last_headers(self, path: str) -> dict[str, str]:
        """Headers of the latest request for `path`, names lower-cased."""
        return dict(self._stats.last_headers.get(path, {}))

    @property
    def connections(self) -> int:
        """TCP connections accepted since start (or the last reset)."""
        return self._stats.connections

    @property
    def requests_per_connection(self) -> list[int]:
        with self._lock:
            return list(self._stats.per_connection.values())

    @property
    def max_in_flight(self) -> int:
        """Most requests being handled at the same moment."""
        return self._stats.max_in_flight

    def reset_stats(self) -> None:
        with self._lock:
            in_flight = self._stats.in_flight
            self._stats = _Stats(in_flight=in_flight, max_in_flight=in_flight)

    # -- called from handler threads ---------------------------------------

    def _connection_opened(self, sock: socket.socket) -> int:
        with self._lock:
            self._stats.connections += 1
            self._next_connection_id += 1
            connection_id = self._next_connection_id
            self._stats.per_connection[connection_id] = 0
            self._open[connection_id] = sock
        return connection_id

    def _connection_closed(self, connection_id: int) -> None:
        with self._lock:
            self._open.pop(connection_id, None)

    def _request_started(self, path: str, connection_id: int, headers: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            stats = self._stats
            stats.requests[path] = stats.requests.get(path, 0) + 1
            stats.arrivals.setdefault(path, []).append(time.time())
            stats.last_headers[path] = {name.lower(): value for name, value in headers}
            stats.per_connection[connection_id] = stats.per_connection.get(connection_id, 0) + 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)

    def _request_finished(self) -> None:
        with self._lock:
            self._stats.in_flight -= 1


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m tests.feedserver --feeds 1000`: serve synthetic feeds until interrupted.

    For benchmarks: a server in its own process does not compete with the
    client under test for the GIL. Prints the OPML URL listing the feeds.
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--encoding", choices=["gzip", "deflate"], default=None)
    args = parser.parse_args(argv)
    server = FeedServer(args.host, args.port)
    for number in range(args.feeds):
        items = [
            {
                "title": f"Item {number}.{index}",
                "link": f"https://press.example/{number}/{index}",
                "guid": f"{number}-{index}",
                "description": "Statement on cooperation and human rights. " * 10,
                "pubDate": datetime(2024, 1, 1, tzinfo=UTC),
            }
            for index in range(args.items)
        ]
        server.add_feed(
            f"/feeds/{number}.xml", feed_xml(items, title=f"Feed {number}"), encoding=args.encoding
        )
    server.start()
    print(server.url("/feeds.opml"), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
