"""The outcome of one delivery attempt, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from monitor.alerts.content import Content


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    status: str | None = None  # "200", "250 2.0.0 Ok: queued as …"
    error: str | None = None  # one line for the operator
    retry_after_s: float | None = None  # the receiver asked us to wait this long
    gone: bool = False  # the receiver wants no more (HTTP 410; a bad Apprise token): disable the channel


class Sender(Protocol):
    """A configured channel that can deliver alerts."""

    name: str
    kind: str  # "email", "webhook" or "apprise"
    target: str  # where, for listings and logs (never a secret)
    config_hash: str  # changes when the channel's configuration does

    async def send(self, content: Content) -> Delivery: ...

    async def aclose(self) -> None: ...
