"""Senders built from `[channels.*]`: secrets resolved and keys decoded once, at
start (a missing secret stops the daemon there, not at 3 a.m. on the first
match)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from monitor.alerts.delivery import Sender
from monitor.alerts.settings import AnyChannel, AppriseChannel, EmailChannel
from monitor.alerts.signing import SigningError, decode_secret
from monitor.alerts.smtp import SmtpSender
from monitor.alerts.webhook import WebhookSender, make_client
from monitor.errors import ConfigError
from monitor.secrets import SecretError, resolve


class ChannelError(ConfigError):
    """A channel that cannot be used as configured (missing secret, bad key…)."""


class Senders:
    """Every configured channel's sender, sharing one HTTP client and one SMTP pool."""

    def __init__(self, senders: Mapping[str, Sender], client: httpx.AsyncClient, pool: ThreadPoolExecutor) -> None:
        self.by_name = dict(senders)
        self._client = client
        self._pool = pool

    def __getitem__(self, name: str) -> Sender:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    @property
    def names(self) -> list[str]:
        return list(self.by_name)

    def config_hashes(self) -> dict[str, str]:
        return {name: s.config_hash for name, s in self.by_name.items()}

    async def aclose(self) -> None:
        await self._client.aclose()
        self._pool.shutdown(wait=False, cancel_futures=True)


def build_senders(
    channels: Mapping[str, AnyChannel], base_dir: Path, *, only: str | None = None
) -> Senders:
    """Raises ChannelError naming the channel and what is wrong with it."""
    client = make_client()
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="send")  # SMTP and Apprise: both blocking
    senders: dict[str, Sender] = {}
    for name, channel in channels.items():
        if only is not None and name != only:
            continue
        try:
            if isinstance(channel, EmailChannel):
                password = resolve(channel.password) if channel.password else None
                ca_file = channel.ca_file
                if ca_file is not None and not ca_file.is_absolute():
                    ca_file = base_dir / ca_file
                senders[name] = SmtpSender(name, channel, password, executor=pool, ca_file=ca_file)
            elif isinstance(channel, AppriseChannel):
                from monitor.alerts.chat import AppriseSender, split_urls  # imports Apprise: only when configured

                senders[name] = AppriseSender(name, channel, split_urls(resolve(channel.urls)), pool)
            else:
                key = decode_secret(resolve(channel.secret)) if channel.secret else None
                senders[name] = WebhookSender(name, channel, key, client)
        except (SecretError, SigningError, OSError, ConfigError) as exc:
            raise ChannelError(f"channel {name!r}: {exc}") from exc
    return Senders(senders, client, pool)
