"""The subscriber: a daemon job that asks hubs for subscriptions and renews them.

A poll that finds a hub calls `discovered` (cheap: it compares with what it
knew, and writes only a change; `monitor poll --once` records hubs this way and
leaves the asking to a daemon). The job (`kick`, from the daemon's tick) claims
the subscriptions that are due in the database and, for each: marks it
requested (from then on the hub's verification is welcome, even one that
arrives before the hub answers), POSTs the request through the guarded
fetcher, and records the answer. A hub that is down,
refuses, or accepts but never verifies within `VERIFY_WITHIN_S` fails the
subscription: the error is kept for `monitor feeds`, the push lapses at the end
of its lease and polling takes over, and the hub is asked again after a backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from monitor import logs
from monitor.ingest.http import Fetcher, FetchError
from monitor.states import SubscriptionState
from monitor.store.websub import Due, SubscriptionStore
from monitor.websub import protocol

T = TypeVar("T")
log = logs.get("websub")

CLAIM_S = 120  # a claimed subscription is ours this long: longer than any request's deadline
BATCH = 32  # subscriptions claimed at once


class Subscriber:
    def __init__(
        self, store: SubscriptionStore, fetcher: Fetcher, db: Executor, *, public_url: str, lease_s: int,
        owner: str,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.db = db
        self.public_url = public_url
        self.lease_s = lease_s
        self.owner = owner
        self._known: dict[int, tuple[str, str]] | None = None
        self._pass: asyncio.Task[None] | None = None
        self._again = False

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db, lambda: fn(*args, **kwargs))

    # discovery (called by polls) -------------------------------------------------------

    async def discovered(self, feed_id: int, feed_url: str, hub: str | None, self_url: str | None) -> None:
        """A poll read the feed: record the hub it names (or that it names none any more)."""
        try:
            if self._known is None:
                self._known = await self._db(self.store.known)
            wanted = (hub, protocol.topic_of(feed_url, self_url)) if hub else None
            if self._known.get(feed_id) == wanted:
                return
            if wanted is None:
                await self._db(self.store.forget, feed_id)
                log.info("websub_hub_gone", feed=feed_url, hint="the feed names no hub any more")
            else:
                changed = await self._db(self.store.discovered, feed_id, *wanted, token=protocol.new_token(),
                                         secret=protocol.new_secret(), now=datetime.now(UTC))
                if changed:  # the daemon's next websub tick asks the hub
                    log.info("websub_hub_found", feed=feed_url, hub=wanted[0], topic=wanted[1])
            if wanted is None:
                self._known.pop(feed_id, None)
            else:
                self._known[feed_id] = wanted
        except Exception as exc:  # a poll must never fail for this; the next one tries again
            log.warning("websub_discovery_failed", feed=feed_url, error=f"{type(exc).__name__}: {exc}")

    # the job -------------------------------------------------------------------------

    def kick(self) -> asyncio.Task[None]:
        """Start a pass over due subscriptions, or have the running one make another."""
        if self._pass is not None and not self._pass.done():
            self._again = True
            return self._pass
        self._again = False
        self._pass = asyncio.create_task(self._passes())
        return self._pass

    async def _passes(self) -> None:
        while True:
            try:
                while await self.run_once() == BATCH:  # a full batch: more may be due
                    pass
            except Exception as exc:  # the next tick tries again; nothing was lost
                log.error("websub_pass_crashed", error=f"{type(exc).__name__}: {exc}")
                return
            if not self._again:
                return
            self._again = False

    async def run_once(self) -> int:
        """Act on up to BATCH due subscriptions; how many there were."""
        now = datetime.now(UTC)
        due = await self._db(self.store.claim_due, self.owner, timedelta(seconds=CLAIM_S), BATCH, now=now)
        await asyncio.gather(*(self._act(d) for d in due))
        return len(due)

    async def _act(self, due: Due) -> None:
        now = datetime.now(UTC)
        if due.state == SubscriptionState.REQUESTED:  # due while requested: the hub never verified
            await self._failed(due, f"the hub accepted the request but did not verify it within "
                                    f"{protocol.VERIFY_WITHIN_S} s")
            return
        if not await self._db(self.store.requesting, due.id, self.owner, now=now):
            return  # no longer ours
        renewing = due.state == SubscriptionState.VERIFIED
        form = protocol.subscribe_form(callback=protocol.callback_url(self.public_url, due.token), topic=due.topic,
                                       lease_s=self.lease_s, secret=due.secret)
        try:
            posted = await self.fetcher.post_form(due.hub, form)
        except FetchError as exc:
            await self._failed(due, str(exc))
            return
        verify_by = datetime.now(UTC) + timedelta(seconds=protocol.VERIFY_WITHIN_S)
        await self._db(self.store.accepted, due.id, self.owner, verify_by=verify_by)
        log.info("websub_requested", hub=due.hub, topic=due.topic, renewal=renewing, status=posted.status)

    async def _failed(self, due: Due, error: str) -> None:
        now = datetime.now(UTC)
        retry = protocol.retry_at(now, due.failures + 1)
        if await self._db(self.store.failed, due.id, self.owner, error=error, now=now, retry_at=retry):
            log.warning("websub_failed", hub=due.hub, topic=due.topic, error=error, retry_at=retry.isoformat(),
                        hint="polling takes over when the current lease ends")

    async def close(self) -> None:
        """Let a running pass finish (each request is bounded by the fetch deadline), then
        give back our claims."""
        if self._pass is not None and not self._pass.done():
            await asyncio.gather(self._pass, return_exceptions=True)
        await self._db(self.store.release, self.owner)
