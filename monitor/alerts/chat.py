"""Chat and push delivery through Apprise: Slack, Teams, Matrix, Telegram, ntfy…

Apprise is blocking (requests underneath), so each delivery runs on the
senders' thread pool, never the event loop, under the channel's deadline
twice over: Apprise's own `timeout=` (it stops waiting and says TIMEOUT) and
the plugins' socket timeouts set to the same value (so the thread is freed
too), with `asyncio.timeout` around it all.

Permanent or transient? `Apprise.notify()` answers per service (an
`AppriseResult` holding a `NotifyResult` per URL: SUCCESS, FAILURE or
TIMEOUT), never with the HTTP status. The status is only in the failing
plugin's own warning, which Apprise's HTTP plugins write the same way
("Failed to send … notification: Unauthorized, error=401."), and which
Apprise 2 captures per attempt into that result (a per-call log capture, not
global logging state, so concurrent deliveries do not see each other's
lines). We read the last `error=NNN` of the failed attempt: 401, 403, 404 or
410 mean the URL or its token is wrong and will stay wrong, so the channel is
disabled with the reason, as a 410 disables a webhook; anything else (5xx,
429, a timeout, a refused connection, no status at all) is retried on the
outbox schedule and ends dead-lettered. Reading log text is the one fragile
part; a plugin that words its failure otherwise is only ever retried, never
wrongly disabled.

One channel may name several URLs. A URL that accepted an alert is not sent it
again when another URL of the channel fails and the alert is retried (kept in
memory: after a restart the retry goes to every URL, at least once as ever).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from monitor.alerts.content import Content
from monitor.alerts.delivery import Delivery
from monitor.alerts.render import chat_body, chat_title
from monitor.alerts.settings import AppriseChannel
from monitor.errors import ConfigError
from monitor.present.sanitize import one_line

#: The service said the URL or its credentials are wrong: retrying cannot help.
PERMANENT = frozenset({401, 403, 404, 410})
REMEMBERED = 2048  # alerts whose delivered URLs are kept, for retries of partial failures
_STATUS = re.compile(r"\berror=(\d{3})\b")

logging.getLogger("apprise").addHandler(logging.NullHandler())  # Apprise's lines reach us via its results


class AppriseUrlError(ConfigError):
    """An Apprise URL that Apprise does not understand."""


def split_urls(value: str) -> list[str]:
    """The URLs of a secret: separated by whitespace or new lines."""
    return value.split()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one URL answered."""

    ok: bool
    label: str  # the service and host, no secret
    status: int | None = None
    error: str | None = None
    timed_out: bool = False

    @property
    def permanent(self) -> bool:
        return self.status in PERMANENT


def classify(label: str, result: Any) -> Outcome:
    """One `NotifyResult` (or None when Apprise ran nothing) as an Outcome: decides, does no I/O."""
    import apprise

    if result is None:
        return Outcome(False, label, error=f"{label}: Apprise attempted nothing")
    if result.status == apprise.AppriseResultStatus.SUCCESS:
        return Outcome(True, label)
    if result.status == apprise.AppriseResultStatus.TIMEOUT:
        return Outcome(False, label, error=f"{label}: no answer in time", timed_out=True)
    messages = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    statuses = [int(m) for message in messages for m in _STATUS.findall(message)]
    detail = one_line(messages[-1], 200) if messages else "failed"
    return Outcome(False, label, status=statuses[-1] if statuses else None, error=f"{label}: {detail}")


def combine(outcomes: Sequence[Outcome]) -> Delivery:
    """The delivery of the whole channel: ok when every URL accepted it; gone
    when any said its URL or token is wrong."""
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return Delivery(True, status="accepted by " + ", ".join(o.label for o in outcomes))
    error = "; ".join(o.error or o.label for o in failed)[:500]
    worst = next((o for o in failed if o.permanent), failed[0])
    status = str(worst.status) if worst.status is not None else None
    return Delivery(False, status=status, error=error, gone=worst.permanent)


def label_of(service: Any) -> str:
    """`Slack slack://T…/…`: the service and where, never a token."""
    scheme = urlsplit(service.url(privacy=True)).scheme
    host = getattr(service, "host", None)
    where = f"{scheme}://{host}" + (f":{service.port}" if getattr(service, "port", None) else "") if host else \
        f"{scheme}://"
    return f"{service.service_name} {where}/…"


class AppriseSender:
    kind = "apprise"

    def __init__(self, name: str, channel: AppriseChannel, urls: Sequence[str], executor: Executor) -> None:
        import apprise

        if not urls:
            raise AppriseUrlError(f"{channel.urls.describe()} holds no Apprise URL")
        self.name = name
        self.channel = channel
        self._executor = executor
        asset = apprise.AppriseAsset(
            interpret_escapes=False,  # feed text's backslashes stay backslashes
            interpret_emojis=False,  # and its :words: stay words
            http_redirects=False,  # as for webhooks: a redirect is a failure, fix the URL
        )
        self._services: list[tuple[str, Any]] = []
        for position, url in enumerate(urls, 1):
            notifier = apprise.Apprise(asset=asset)
            if not notifier.add(url):
                raise AppriseUrlError(
                    f"URL {position} of {len(urls)} in {channel.urls.describe()} is not an Apprise URL "
                    f"it can use (scheme {urlsplit(url).scheme or '?'}://); see https://appriseit.com/services/"
                )
            for service in notifier:  # the thread must not outlive the deadline by much
                service.socket_connect_timeout = min(service.socket_connect_timeout, channel.timeout_s)
                service.socket_read_timeout = channel.timeout_s
            self._services.append((label_of(notifier[0]), notifier))
        self.target = "apprise: " + ", ".join(label for label, _ in self._services)
        digest = hashlib.sha256(channel.model_dump_json().encode())
        digest.update("\n".join(urls).encode())  # a fixed token re-enables a disabled channel
        self.config_hash = digest.hexdigest()
        self._delivered: OrderedDict[str, set[int]] = OrderedDict()

    async def send(self, content: Content) -> Delivery:
        try:
            title, body = chat_title(content), chat_body(content, self.channel.format)
        except Exception as exc:  # a rendering bug must fail the attempt, not the dispatcher
            return Delivery(False, error=f"cannot build the message: {type(exc).__name__}: {exc}")
        done = self._delivered.get(content.key, set())
        pending = [i for i in range(len(self._services)) if i not in done]
        deadline = self.channel.timeout_s
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(deadline + 1):  # Apprise's own deadline comes first
                outcomes = await loop.run_in_executor(self._executor, self._notify, pending, title, body)
        except TimeoutError:
            return Delivery(False, error=f"no answer within {deadline:g}s")
        accepted = {i for i, o in zip(pending, outcomes, strict=True) if o.ok}
        self._remember(content.key, done | accepted)
        return combine(outcomes)

    def _notify(self, indexes: Sequence[int], title: str, body: str) -> list[Outcome]:
        """Blocking: every pending URL in turn, within one shared deadline."""
        import time

        end = time.monotonic() + self.channel.timeout_s
        outcomes = []
        for i in indexes:
            label, notifier = self._services[i]
            left = end - time.monotonic()
            if left <= 0:
                outcomes.append(Outcome(False, label, error=f"{label}: not tried, deadline reached",
                                        timed_out=True))
                continue
            result = notifier.notify(body=body, title=title, body_format=self.channel.format, timeout=left)
            outcomes.append(classify(label, result.results[0] if result.results else None))
        return outcomes

    def _remember(self, key: str, delivered: set[int]) -> None:
        if len(delivered) == len(self._services):
            self._delivered.pop(key, None)
            return
        self._delivered[key] = delivered
        self._delivered.move_to_end(key)
        while len(self._delivered) > REMEMBERED:
            self._delivered.popitem(last=False)

    async def aclose(self) -> None:
        """The pool belongs to the senders, which shut it down."""
