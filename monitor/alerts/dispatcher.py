"""The dispatcher: claim due alerts, deliver them, record every attempt.

One pass claims what is due (a lease per alert, so another dispatcher, in
this process or another machine, never holds it too), delivers the claimed
alerts concurrently on the event loop, records each outcome, and claims
again until nothing due is left. Database calls run on the caller's database
executor, deliveries on the loop (webhooks) or the SMTP pool: nothing here
blocks the loop.

Delivery is at least once: a dispatcher killed between sending and recording
leaves a lease that expires, and the next pass sends again under the same
idempotency key (webhook-id, Message-ID) so receivers can drop the copy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from monitor import logs
from monitor.alerts.backoff import next_delay
from monitor.alerts.channels import Senders
from monitor.alerts.content import load
from monitor.alerts.delivery import Delivery
from monitor.alerts.settings import AlertSettings
from monitor.store.alerts import Claimed, Outbox

log = logs.get("alerts")
T = TypeVar("T")

MAX_PER_PASS = 1000  # a pass ends after this many attempts; the next tick goes on


@dataclass
class PassReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    disabled: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def attempts(self) -> int:
        return self.sent + self.failed + self.dead


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        senders: Senders,
        settings: AlertSettings,
        *,
        owner: str,
        db: Executor,
        descriptions: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.outbox = outbox
        self.senders = senders
        self.settings = settings
        self.owner = owner
        self._db = db
        self._descriptions = dict(descriptions or {})
        self._injected_clock = clock
        self._clock_offset = timedelta(0)  # the database's clock minus ours, read each pass
        self._clock = clock or (lambda: datetime.now(UTC) + self._clock_offset)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, partial(fn, *args, **kwargs))

    async def sync_channels(self) -> None:
        """Re-enable channels disabled by a 410 whose configuration has changed."""
        for name in await self._call(self.outbox.sync_channels, self.senders.config_hashes()):
            log.info("channel_enabled", channel=name, reason="configuration changed")
        for name, state in (await self._call(self.outbox.disabled_channels)).items():
            if name in self.senders:
                log.warning("channel_disabled", channel=name, since=state.disabled_at.isoformat(),
                            reason=state.reason, hint=f"monitor alerts enable {name}")

    async def run(self, stop: asyncio.Event | None = None) -> PassReport:
        """One pass: deliver everything due now, then return."""
        report = PassReport()
        started = time.monotonic()
        attempted: set[int] = set()
        lease = timedelta(seconds=self.settings.lease_s)
        if self._injected_clock is None:  # leases and retry times on the database's clock
            self._clock_offset = await self._call(self.outbox.now) - datetime.now(UTC)
        while len(attempted) < MAX_PER_PASS and not (stop and stop.is_set()):
            claimed = await self._call(
                self.outbox.claim_due, self.owner, lease, self.settings.concurrency,
                channels=self.senders.names, exclude=attempted, now=self._clock(),
            )
            if not claimed:
                break
            attempted.update(c.id for c in claimed)
            await asyncio.gather(*(self._deliver(c, report) for c in claimed))
        report.seconds = time.monotonic() - started
        if report.attempts:
            log.info("dispatch", sent=report.sent, failed=report.failed, dead=report.dead,
                     seconds=round(report.seconds, 2))
        return report

    async def _deliver(self, claimed: Claimed, report: PassReport) -> None:
        sender = self.senders[claimed.channel]
        started = time.monotonic()
        try:
            content = await self._call(load, self.outbox, claimed, self._descriptions)
            result = await sender.send(content)
        except Exception as exc:  # a bug for one alert must not stop the others
            log.error("alert_crashed", alert=claimed.id, channel=claimed.channel,
                      error=f"{type(exc).__name__}: {exc}")
            result = Delivery(False, error=f"internal error: {type(exc).__name__}: {exc}")
        duration_ms = int((time.monotonic() - started) * 1000)
        now = self._clock()
        fields = dict(alert=claimed.id, kind=claimed.kind, channel=claimed.channel, target=sender.target,
                      key=claimed.idempotency_key, attempt=claimed.attempts, ms=duration_ms)
        if result.ok:
            await self._call(self.outbox.record_success, claimed.id, at=now, status=result.status,
                             duration_ms=duration_ms)
            report.sent += 1
            log.info("alert_sent", status=result.status, **fields)
            return
        error = result.error or "failed"
        if result.gone:
            reason = f"{error} at {now.isoformat(timespec='seconds')}"
            await self._call(self.outbox.disable_channel, claimed.channel, reason, sender.config_hash, now)
            report.disabled.append(claimed.channel)
            log.warning("channel_disabled", channel=claimed.channel, target=sender.target, reason=reason,
                        hint=f"monitor alerts enable {claimed.channel}")
        delay = next_delay(
            claimed.attempts, self.settings.retry_schedule_s, jitter=self.settings.jitter,
            retry_after_s=result.retry_after_s, max_retry_after_s=self.settings.max_retry_after_s,
        )
        retry_at = None if delay is None else now + timedelta(seconds=delay)
        await self._call(self.outbox.record_failure, claimed.id, self.owner, at=now, status=result.status,
                         error=error, retry_at=retry_at, duration_ms=duration_ms)
        if retry_at is None:
            report.dead += 1
            log.error("alert_dead", status=result.status, error=error,
                      hint=f"monitor alerts retry {claimed.id}", **fields)
        else:
            report.failed += 1
            log.warning("alert_failed", status=result.status, error=error,
                        retry_in_s=round(delay or 0, 1), **fields)

    async def release(self) -> int:
        return await self._call(self.outbox.release, self.owner)

    async def aclose(self) -> None:
        await self.senders.aclose()
