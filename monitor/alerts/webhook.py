"""Webhook delivery: one signed JSON POST per attempt.

Limits as for fetching feeds: connect/read timeouts plus a total deadline, no
redirects followed (the Standard Webhooks guidance: a 3xx is a failure, fix the
URL), no proxy or netrc from the environment, and at most RESPONSE_CAP bytes
of the answer read (only for the operator's error message). Only 2xx is
success; 410 Gone asks us to stop; Retry-After is passed on to the scheduler.
The webhook-id is the alert's idempotency key, identical on every retry; the
timestamp and signature are fresh for each attempt, as the spec says.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import httpx

import monitor
from monitor.alerts.content import Content
from monitor.alerts.delivery import Delivery
from monitor.alerts.render import payload
from monitor.alerts.settings import WebhookChannel
from monitor.alerts.signing import sign
from monitor.ingest.http import parse_retry_after
from monitor.present.sanitize import one_line

RESPONSE_CAP = 16 * 1024


def make_client() -> httpx.AsyncClient:
    """One pooled client for every webhook channel of a dispatcher."""
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=8, keepalive_expiry=30.0),
        headers={"User-Agent": f"press-monitor/{monitor.__version__} (webhook)"},
    )


def body_of(content: Content) -> bytes:
    return json.dumps(payload(content), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookSender:
    kind = "webhook"

    def __init__(self, name: str, channel: WebhookChannel, key: bytes | None, client: httpx.AsyncClient) -> None:
        self.name = name
        self.channel = channel
        self.target = channel.target
        self.config_hash = hashlib.sha256(channel.model_dump_json(by_alias=True).encode()).hexdigest()
        self._key = key
        self._client = client

    def headers(self, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts)}
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, msg_id, ts, body)
        return headers

    async def send(self, content: Content) -> Delivery:
        body = body_of(content)
        timeout = self.channel.timeout_s
        try:
            async with asyncio.timeout(timeout):
                request = self._client.build_request(
                    "POST", self.channel.url, content=body, headers=self.headers(content.key, body),
                    timeout=httpx.Timeout(timeout),
                )
                response = await self._client.send(request, stream=True)
                try:
                    answer = await _read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            return Delivery(False, error=f"no answer within {timeout:g}s")
        except httpx.HTTPError as exc:
            return Delivery(False, error=one_line(f"{type(exc).__name__}: {exc}", 300) or type(exc).__name__)
        status = response.status_code
        if 200 <= status < 300:
            return Delivery(True, status=str(status))
        detail = one_line(answer.decode("utf-8", "replace"), 200)
        error = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status == 410:
            return Delivery(False, status=str(status), error=error, gone=True)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))
        return Delivery(False, status=str(status), error=error, retry_after_s=retry_after)

    async def aclose(self) -> None:
        """The client belongs to the dispatcher, which closes it."""


async def _read_capped(response: httpx.Response) -> bytes:
    data = bytearray()
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) >= RESPONSE_CAP:
            break
    return bytes(data[:RESPONSE_CAP])
