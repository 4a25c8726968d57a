"""The live retriever against a real local HTTP server (tests/feedserver.py).

Every limit is exercised with real sockets: a mock transport would fake away
exactly what matters here (keep-alive, streaming, timeouts, gzip on the wire,
redirect hops through the address guard). Deadlines are small so the file
stays fast. Traffic never leaves 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.config import FetchSettings
from monitor.ingest.http import (
    Conditional,
    Fetcher,
    FetchError,
    freshness_lifetime,
    parse_retry_after,
)
from tests.feedserver import FeedServer, feed_xml

pytestmark = pytest.mark.anyio

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
CAP = 1024 * 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def settings(**overrides: Any) -> FetchSettings:
    """Small limits so hostile endpoints fail fast; only 127.0.0.1 is reachable."""
    values: dict[str, Any] = {
        "contact_url": "https://example.org/contact",
        "connect_timeout_s": 1.0,
        "read_timeout_s": 1.0,
        "deadline_s": 2.0,
        "max_body_bytes": CAP,
        "allowed_networks": ["127.0.0.1/32"],
    }
    values.update(overrides)
    return FetchSettings(**values)


def seed_feed() -> bytes:
    """An RSS document whose items are the seed texts, verbatim."""
    items = [
        {
            "title": path.stem,
            "link": f"https://press.example/{path.stem}",
            "guid": path.stem,
            "description": path.read_text(encoding="utf-8"),
            "pubDate": datetime(2024, 3, 1, 12, tzinfo=UTC),
        }
        for path in sorted(SEEDS.glob("*.txt"))
    ]
    assert items, "no seed texts found"
    return feed_xml(items, title="Seeds")


async def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    """The error a fetch ends with. Its message names what stopped it (a read
    timeout, the size cap, the deadline…), which is how tests tell a limit held
    without timing anything: a loaded machine stretches time, not messages."""
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    return caught.value


# --- success paths -----------------------------------------------------------------


async def test_200_returns_body_validators_and_final_url(server: FeedServer) -> None:
    body = seed_feed()
    url = server.add_feed("/seeds.xml", body, cache_control="max-age=600")
    async with Fetcher(settings()) as fetcher:
        started = time.monotonic()
        fetched = await fetcher.fetch(url)
        outside = time.monotonic() - started
    assert fetched.status == 200
    assert fetched.body == body
    assert fetched.url == url
    assert fetched.etag and fetched.etag.startswith('"')
    assert fetched.last_modified and fetched.last_modified.endswith("GMT")
    assert fetched.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert fetched.max_age_s == 600
    assert 0 < fetched.elapsed_s <= outside  # the fetch's own duration, measured inside it


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_bodies_are_inflated(server: FeedServer, encoding: str) -> None:
    body = seed_feed()
    url = server.add_feed("/z.xml", body, encoding=encoding)
    async with Fetcher(settings()) as fetcher:
        fetched = await fetcher.fetch(url)
    assert fetched.headers["content-encoding"] == encoding  # it really was compressed on the wire
    assert fetched.body == body
    assert server.last_headers("/z.xml")["accept-encoding"] == "gzip, deflate"


async def test_user_agent_names_version_and_contact(server: FeedServer) -> None:
    url = server.add_feed("/ua.xml", feed_xml([]))
    async with Fetcher(settings(), version="9.8.7") as fetcher:
        await fetcher.fetch(url)
    assert (
        server.last_headers("/ua.xml")["user-agent"] == "press-monitor/9.8.7 (+https://example.org/contact)"
    )


async def test_conditional_get_with_etag_returns_304_without_body(server: FeedServer) -> None:
    url = server.add_feed("/c.xml", feed_xml([{"title": "one"}]))
    async with Fetcher(settings()) as fetcher:
        first = await fetcher.fetch(url)
        second = await fetcher.fetch(url, Conditional(etag=first.etag, last_modified=first.last_modified))
        assert server.last_headers("/c.xml")["if-none-match"] == first.etag
        assert second.status == 304
        assert second.body is None

        server.publish("/c.xml", feed_xml([{"title": "two"}]))
        third = await fetcher.fetch(url, Conditional(etag=first.etag, last_modified=first.last_modified))
    assert third.status == 200
    assert third.body is not None and b"two" in third.body
    assert third.etag != first.etag


async def test_304_without_validators_keeps_the_ones_sent(server: FeedServer) -> None:
    """Some servers answer 304 bare; the poller must not lose its ETag because of it."""
    async with Fetcher(settings()) as fetcher:
        fetched = await fetcher.fetch(server.hostile_url("304"), Conditional(etag='"abc"', last_modified="x"))
    assert fetched.status == 304
    assert (fetched.etag, fetched.last_modified) == ('"abc"', "x")


async def test_conditional_get_with_last_modified_only(server: FeedServer) -> None:
    url = server.add_feed("/lm.xml", feed_xml([{"title": "one"}]))
    async with Fetcher(settings()) as fetcher:
        first = await fetcher.fetch(url)
        second = await fetcher.fetch(url, Conditional(last_modified=first.last_modified))
        assert "if-none-match" not in server.last_headers("/lm.xml")
        assert server.last_headers("/lm.xml")["if-modified-since"] == first.last_modified
        assert second.status == 304 and second.body is None
        server.publish("/lm.xml", feed_xml([{"title": "two"}]))
        third = await fetcher.fetch(url, Conditional(last_modified=first.last_modified))
    assert third.status == 200


async def test_304_reuses_the_kept_alive_connection(server: FeedServer) -> None:
    url = server.add_feed("/ka.xml", feed_xml([{"title": "one"}]))
    async with Fetcher(settings()) as fetcher:
        first = await fetcher.fetch(url)
        for _ in range(3):
            again = await fetcher.fetch(url, Conditional(etag=first.etag))
            assert again.status == 304
    assert server.requests("/ka.xml") == 4
    assert server.connections == 1
    assert server.requests_per_connection == [4]


async def test_cookies_from_one_feed_are_not_sent_back(server: FeedServer) -> None:
    url = server.add_feed("/cookie.xml", feed_xml([]), headers={"Set-Cookie": "track=1; Path=/"})
    async with Fetcher(settings()) as fetcher:
        await fetcher.fetch(url)
        await fetcher.fetch(url)
    assert "cookie" not in server.last_headers("/cookie.xml")


async def test_html_and_malformed_xml_are_fetched_not_judged(server: FeedServer) -> None:
    """The retriever knows nothing about parsing: these are the parser's problem."""
    async with Fetcher(settings()) as fetcher:
        html = await fetcher.fetch(server.hostile_url("html"))
        broken = await fetcher.fetch(server.hostile_url("malformed"))
    assert html.status == 200 and html.headers["content-type"].startswith("text/html")
    assert broken.status == 200 and broken.body is not None and broken.body.startswith(b"<?xml")


async def test_body_of_exactly_the_cap_is_accepted(server: FeedServer) -> None:
    exact = server.add_feed("/exact.xml", b"x" * 4096)
    over = server.add_feed("/over.xml", b"x" * 4097)
    async with Fetcher(settings(max_body_bytes=4096)) as fetcher:
        assert (await fetcher.fetch(exact)).body == b"x" * 4096
        error = await fetch_error(fetcher, over)
    assert error.kind == "too-large"
    assert str(error) == "body exceeds 4096 bytes"


async def test_compressed_body_over_the_cap_when_inflated_is_refused(server: FeedServer) -> None:
    """The cap is on decompressed bytes: 4 KiB on the wire, 64 KiB inflated."""
    url = server.add_feed("/zz.xml", b"<rss>" + b" " * 65536 + b"</rss>", encoding="gzip")
    async with Fetcher(settings(max_body_bytes=32768)) as fetcher:
        error = await fetch_error(fetcher, url)
    assert error.kind == "too-large"


# --- hostile servers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "kind", "status", "message"),
    [
        ("stall", {}, "timeout", None, "read timeout: no data for 1s"),
        ("huge", {}, "too-large", None, f"body exceeds {CAP} bytes"),
        ("huge-declared", {}, "too-large", None, f"body exceeds {CAP} bytes"),
        ("gzip-bomb", {}, "too-large", None, f"body exceeds {CAP} bytes"),
        # ~0.5 MB on the wire (under the cap, declared) but 512 MiB inflated.
        ("gzip-bomb", {"mib": 512, "declared": 1}, "too-large", None, f"body exceeds {CAP} bytes"),
        ("redirect-loop", {}, "redirects", None, "too many redirects (5)"),
        ("404", {}, "http", 404, "HTTP 404 Not Found"),
        ("500", {}, "http", 500, "HTTP 500 Internal Server Error"),
        ("410", {}, "http", 410, "HTTP 410 Gone"),
        ("429", {}, "http", 429, "HTTP 429 Too Many Requests (retry after 120s)"),
        ("garbage", {}, "protocol", None, "protocol error"),
    ],
)
async def test_hostile_endpoint_maps_to_fetch_error_within_deadline(
    server: FeedServer,
    name: str,
    params: dict[str, Any],
    kind: str,
    status: int | None,
    message: str,
) -> None:
    async with Fetcher(settings()) as fetcher:
        error = await fetch_error(fetcher, server.hostile_url(name, **params))
    assert error.kind == kind
    assert error.status == status
    assert str(error).startswith(message)  # stopped by its own limit, so not by the deadline


async def test_trickle_is_cut_at_the_deadline_not_the_read_timeout(server: FeedServer) -> None:
    """The "slow" endpoint: each byte arrives well within the read timeout; only the
    deadline can stop it."""
    async with Fetcher(settings(deadline_s=1.0, read_timeout_s=0.5)) as fetcher:
        error = await fetch_error(fetcher, server.hostile_url("slow", interval=0.05))
    assert error.kind == "timeout"
    assert str(error) == "deadline of 1s exceeded"


async def test_retry_after_and_gone_are_carried(server: FeedServer) -> None:
    async with Fetcher(settings()) as fetcher:
        too_many = await fetch_error(fetcher, server.hostile_url("429"))
        unavailable = await fetch_error(fetcher, server.hostile_url("503"))
        gone = await fetch_error(fetcher, server.hostile_url("410"))
        missing = await fetch_error(fetcher, server.hostile_url("404"))
    assert too_many.retry_after_s == 120
    assert unavailable.status == 503
    assert unavailable.retry_after_s is not None and 118 <= unavailable.retry_after_s <= 121
    assert gone.gone and not missing.gone and not too_many.gone
    assert missing.retry_after_s is None


async def test_slow_response_hits_the_read_timeout(server: FeedServer) -> None:
    url = server.add_feed("/late.xml", feed_xml([]))
    server.hold("/late.xml")  # never answers while the fetch waits
    async with Fetcher(settings(read_timeout_s=0.3, deadline_s=30)) as fetcher:
        error = await fetch_error(fetcher, url)
    assert error.kind == "timeout"
    assert str(error) == "read timeout: no data for 0.3s"  # the read timeout, long before the deadline


@pytest.mark.parametrize(
    ("name", "params"),
    [("gzip-bomb", {}), ("huge", {}), ("gzip-bomb", {"mib": 512, "declared": 1})],
)
async def test_memory_stays_bounded_on_bombs_and_huge_bodies(
    server: FeedServer, name: str, params: dict[str, Any]
) -> None:
    """10 GiB of inflated zeros or 50 MB of body must cost about the cap, not the size."""
    url = server.hostile_url(name, **params)
    async with Fetcher(settings(max_body_bytes=2 * CAP, deadline_s=10)) as fetcher:
        await fetcher.fetch(server.add_feed("/warm.xml", feed_xml([])))  # imports, pool, first connection
        tracemalloc.start()
        try:
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(url)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.kind == "too-large"
    print(f"{name} {params}: traced peak {peak / CAP:.2f} MiB")
    assert peak < 8 * CAP, f"peak {peak / CAP:.1f} MiB"


# --- redirects and the address guard ------------------------------------------------


async def test_redirects_are_followed_up_to_the_limit(server: FeedServer) -> None:
    final = server.add_feed("/final.xml", feed_xml([{"title": "here"}]))
    for hop in range(6):
        target = "/final.xml" if hop == 0 else f"/r{hop - 1}"
        server.redirect(f"/r{hop}", target, status=301 if hop % 2 else 302)
    async with Fetcher(settings(max_redirects=5)) as fetcher:
        fetched = await fetcher.fetch(server.url("/r4"))  # five hops
        assert fetched.url == final
        assert fetched.body is not None and b"here" in fetched.body
        assert server.connections == 1  # redirect bodies were drained, the connection reused
        error = await fetch_error(fetcher, server.url("/r5"))  # six hops
    assert error.kind == "redirects"
    assert str(error) == "too many redirects (5)"
    assert server.requests("/final.xml") == 1


async def test_conditional_headers_survive_a_redirect(server: FeedServer) -> None:
    server.add_feed("/moved.xml", feed_xml([]))
    server.redirect("/old.xml", "/moved.xml", status=301)
    async with Fetcher(settings()) as fetcher:
        first = await fetcher.fetch(server.url("/old.xml"))
        second = await fetcher.fetch(server.url("/old.xml"), Conditional(etag=first.etag))
    assert second.status == 304
    assert second.url == server.url("/moved.xml")


@pytest.fixture
def other_loopback() -> Iterator[FeedServer]:
    """A second server on 127.0.0.2: loopback, but outside the allowed network."""
    with FeedServer(host="127.0.0.2") as running:
        yield running


async def test_redirect_to_a_refused_address_is_blocked_before_connecting(
    server: FeedServer, other_loopback: FeedServer
) -> None:
    target = other_loopback.add_feed("/secret.xml", b"internal")
    async with Fetcher(settings()) as fetcher:
        error = await fetch_error(fetcher, server.redirect_url(target))
    assert error.kind == "blocked"
    assert str(error) == "refused address 127.0.0.2 (loopback) for host 127.0.0.2"
    assert other_loopback.connections == 0


async def test_allow_private_addresses_lets_the_same_redirect_through(
    server: FeedServer, other_loopback: FeedServer
) -> None:
    target = other_loopback.add_feed("/secret.xml", b"internal")
    async with Fetcher(settings(allow_private_addresses=True, allowed_networks=[])) as fetcher:
        fetched = await fetcher.fetch(server.redirect_url(target))
    assert fetched.body == b"internal"
    assert fetched.url == target


async def test_loopback_is_refused_without_an_allowance(server: FeedServer) -> None:
    url = server.add_feed("/a.xml", feed_xml([]))
    async with Fetcher(settings(allowed_networks=[])) as fetcher:
        error = await fetch_error(fetcher, url)
    assert error.kind == "blocked"
    assert server.connections == 0


def resolver_for(table: dict[str, Sequence[str]]) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return table[host]

    return resolve


async def test_dns_answer_is_checked_not_the_name(server: FeedServer, other_loopback: FeedServer) -> None:
    """A harmless-looking name resolving to a refused address (DNS rebinding)."""
    other_loopback.add_feed("/secret.xml", b"internal")
    server.add_feed("/public.xml", feed_xml([]))
    resolve = resolver_for({"rebind.test": ["127.0.0.2"], "mixed.test": ["127.0.0.2", "127.0.0.1"]})
    async with Fetcher(settings(), resolver=resolve) as fetcher:
        error = await fetch_error(fetcher, f"http://rebind.test:{other_loopback.port}/secret.xml")
        mixed = await fetcher.fetch(f"http://mixed.test:{server.port}/public.xml")
    assert error.kind == "blocked"
    assert "for host rebind.test" in str(error)
    assert other_loopback.connections == 0
    assert mixed.status == 200  # only the allowed answer was dialled


async def test_idn_hostname_is_fetched_in_punycode(server: FeedServer) -> None:
    server.add_feed("/idn.xml", feed_xml([]))
    resolve = resolver_for({"xn--mnchen-3ya.example": ["127.0.0.1"]})
    async with Fetcher(settings(), resolver=resolve) as fetcher:
        fetched = await fetcher.fetch(f"http://münchen.example:{server.port}/idn.xml")
    assert fetched.status == 200
    assert server.last_headers("/idn.xml")["host"] == f"xn--mnchen-3ya.example:{server.port}"


# --- connection failures -------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_connect() -> None:
    async with Fetcher(settings()) as fetcher:
        error = await fetch_error(fetcher, f"http://127.0.0.1:{closed_port()}/feed.xml")
    assert error.kind == "connect"
    assert str(error).startswith("cannot connect:")


async def test_tls_handshake_failure_is_tls(server: FeedServer) -> None:
    server.add_feed("/a.xml", feed_xml([]))
    async with Fetcher(settings()) as fetcher:
        error = await fetch_error(fetcher, f"https://127.0.0.1:{server.port}/a.xml")
    assert error.kind == "tls"


async def test_connect_timeout_when_the_listen_queue_is_full() -> None:
    """A listener that never accepts and whose queue is full drops our SYN."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                probe = socket.socket()
                fillers.append(probe)
                probe.settimeout(0.2)
                try:
                    probe.connect(("127.0.0.1", port))
                except TimeoutError:
                    break
            else:
                pytest.skip("this kernel accepts connections beyond the listen queue")
            async with Fetcher(settings(connect_timeout_s=0.3)) as fetcher:
                error = await fetch_error(fetcher, f"http://127.0.0.1:{port}/feed.xml")
        finally:
            for probe in fillers:
                probe.close()
    assert error.kind == "timeout"
    assert str(error) == "connect timeout after 0.3s"


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/feed.xml", "file:///etc/passwd"])
async def test_unusable_urls_are_protocol_errors(url: str) -> None:
    async with Fetcher(settings()) as fetcher:
        error = await fetch_error(fetcher, url)
    assert error.kind == "protocol"


# --- concurrency -----------------------------------------------------------------------


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Yield to the loop until `condition` holds (the timeout only stops a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)


async def test_slow_host_does_not_starve_other_hosts(server: FeedServer) -> None:
    """127.0.0.1 and localhost are two hosts to the limiter (same server).

    Three slow fetches queue on 127.0.0.1 (per-host limit 1) while only one of
    them holds a global slot; the second global slot stays free for localhost.
    """
    server.add_feed("/slow.xml", feed_xml([]))
    server.add_feed("/fast.xml", feed_xml([]))
    server.hold("/slow.xml")  # 127.0.0.1 answers nothing until the fast host has been served
    limits = settings(concurrency=2, per_host_concurrency=1, deadline_s=30)
    async with Fetcher(limits) as fetcher:
        slow = [asyncio.create_task(fetcher.fetch(server.url("/slow.xml"))) for _ in range(3)]
        await until(lambda: server.requests("/slow.xml") == 1)  # one holds both its slots
        fast = await fetcher.fetch(server.url("/fast.xml", host="localhost"))
        # Served while all three slow fetches wait, and only one of them reached
        # the server: the per-host limit held without taking the global slot.
        assert not any(task.done() for task in slow)
        assert server.requests("/slow.xml") == 1
        server.release("/slow.xml")
        results = await asyncio.gather(*slow)
    assert fast.status == 200
    assert [r.status for r in results] == [200, 200, 200]
    assert server.max_in_flight == 2  # one slow and the fast one; the slow ones one at a time


async def test_global_limit_caps_requests_in_flight(server: FeedServer) -> None:
    server.add_feed("/slow.xml", feed_xml([]))
    server.hold("/slow.xml")
    async with Fetcher(settings(concurrency=2, per_host_concurrency=8, deadline_s=30)) as fetcher:
        fetches = [asyncio.create_task(fetcher.fetch(server.url("/slow.xml"))) for _ in range(6)]
        await until(lambda: server.requests("/slow.xml") == 2)  # two in flight at once, for sure
        server.release("/slow.xml")
        results = await asyncio.gather(*fetches)
    assert all(result.status == 200 for result in results)
    assert server.max_in_flight == 2
    assert server.requests("/slow.xml") == 6


# --- header parsing ----------------------------------------------------------------------

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DATE = format_datetime(NOW, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Cache-Control": "public, max-age=300"}, 300),
        ({"Cache-Control": "s-maxage=120"}, 120),
        ({"Cache-Control": "max-age=300", "Age": "100"}, 200),
        ({"Cache-Control": "no-cache"}, 0),
        ({"Cache-Control": "no-store, max-age=300"}, 0),
        (
            {
                "Cache-Control": "max-age=60",
                "Expires": format_datetime(NOW + timedelta(hours=1), usegmt=True),
            },
            60,
        ),
        ({"Date": DATE, "Expires": format_datetime(NOW + timedelta(minutes=15), usegmt=True)}, 900),
        ({"Date": DATE, "Expires": "0"}, 0),
    ],
)
def test_freshness_lifetime(headers: dict[str, str], expected: float | None) -> None:
    assert freshness_lifetime(headers, now=NOW) == expected


async def test_freshness_from_a_real_expires_header(server: FeedServer) -> None:
    expires = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    url = server.add_feed("/exp.xml", feed_xml([]), headers={"Expires": expires})
    async with Fetcher(settings()) as fetcher:
        fetched = await fetcher.fetch(url)
    # Expires counts from the server's Date, however long the request took (RFC 9111 4.2.1).
    served_at = parsedate_to_datetime(fetched.headers["date"])
    assert fetched.max_age_s == (parsedate_to_datetime(expires) - served_at).total_seconds()


def test_retry_after_forms() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(later, DATE) == 90
    assert parse_retry_after(later, None, now=NOW) == 90
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- the fixture server itself -------------------------------------------------------------


def test_feedserver_gzip_bomb_is_a_valid_gzip_stream(server: FeedServer) -> None:
    """The bomb must be real gzip (CRC and length check), or the tests above prove nothing."""
    import urllib.request

    with urllib.request.urlopen(server.hostile_url("gzip-bomb", mib=2, declared=1)) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        raw = response.read()
    assert len(raw) < 4 * 1024
    inflated = gzip.decompress(raw)  # verifies the CRC-32 and length trailer
    assert len(inflated) == 2 * CAP and inflated.count(0) == len(inflated)


def test_feedserver_lists_its_feeds_as_opml(server: FeedServer) -> None:
    import urllib.request

    server.add_feed("/one.xml", feed_xml([]))
    server.add_feed("/two.xml", feed_xml([]))
    with urllib.request.urlopen(server.url("/feeds.opml")) as response:
        opml = response.read().decode()
    assert f'xmlUrl="{server.url("/one.xml")}"' in opml
    assert f'xmlUrl="{server.url("/two.xml")}"' in opml
