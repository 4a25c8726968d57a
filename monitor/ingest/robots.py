"""robots.txt for the pages the daemon chooses to fetch (articles), read with
protego (Scrapy's parser: wildcards, Allow/Disallow precedence, Crawl-delay) and
cached per origin, so a site's rules cost one request per `ttl_s`.

A feed the operator listed is fetched whatever robots.txt says (they asked for
it); an article link is our choice, so it asks first. As Google and RFC 9309
read it: a 4xx robots.txt means no rules, a 5xx or an unreachable one means
nothing may be fetched for now (the site may be down: a failure the caller
retries, cached for `UNREACHABLE_TTL_S`), and a robots.txt
larger than `MAX_BYTES` is read as far as it goes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from protego import Protego

from monitor.ingest.http import Fetcher, FetchError

__all__ = ["RobotsCache"]

MAX_BYTES: Final = 512 * 1024
TTL_S: Final = 24 * 3600.0
UNREACHABLE_TTL_S: Final = 600.0  # a site whose robots.txt failed is asked again after this
AGENT: Final = "press-monitor"


@dataclass(frozen=True, slots=True)
class _Rules:
    parser: Protego | None  # None: allow everything
    error: str | None  # robots.txt could not be read: nothing may be fetched for now
    until: float


class RobotsCache:
    """`allowed(url)`: may the daemon fetch `url`? One robots.txt fetch per origin at
    a time, through the guarded fetcher (same limits, same User-Agent)."""

    def __init__(self, fetcher: Fetcher, *, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.fetcher = fetcher
        self.ttl_s = ttl_s
        self.clock = clock
        self._rules: dict[str, _Rules] = {}
        self._loading: dict[str, asyncio.Future[_Rules]] = {}

    async def allowed(self, url: str) -> bool:
        """FetchError when the site's robots.txt cannot be read now (a 5xx, no
        connection): the caller tries again later, as after a failed fetch."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        rules = self._rules.get(origin)
        if rules is None or rules.until <= self.clock():
            rules = await self._load(origin)
        if rules.error is not None:
            raise FetchError("connect", f"robots.txt unreadable: {rules.error}")
        return rules.parser is None or rules.parser.can_fetch(url, AGENT)

    async def _load(self, origin: str) -> _Rules:
        pending = self._loading.get(origin)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Rules] = asyncio.get_running_loop().create_future()
        self._loading[origin] = future
        try:
            rules = await self._fetch(origin)
            self._rules[origin] = rules
            future.set_result(rules)
            return rules
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._loading[origin]

    async def _fetch(self, origin: str) -> _Rules:
        now = self.clock()
        try:
            fetched = await self.fetcher.fetch(f"{origin}/robots.txt", accept="text/plain, */*;q=0.5",
                                               max_bytes=MAX_BYTES)
        except FetchError as exc:
            if exc.kind == "too-large":
                return _Rules(None, None, now + self.ttl_s)  # as good as unreadable: RFC 9309 2.5 lets us go on
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return _Rules(None, None, now + self.ttl_s)
            return _Rules(None, str(exc), now + UNREACHABLE_TTL_S)
        text = (fetched.body or b"").decode("utf-8", errors="replace")
        return _Rules(Protego.parse(text), None, now + self.ttl_s)
