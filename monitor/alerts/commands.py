"""What `monitor alerts …` does; the CLI only parses arguments and prints.

Each function takes an App (config + database) and returns plain data.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.alerts.channels import build_senders
from monitor.alerts.content import sample
from monitor.alerts.delivery import Delivery
from monitor.alerts.digest import collect, schedules
from monitor.alerts.dispatcher import Dispatcher, PassReport
from monitor.app import App
from monitor.present.dates import iso
from monitor.store.alerts import AlertRow, AttemptRow, Outbox, Retried


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:cli-{secrets.token_hex(3)}"


def outbox(app: App) -> Outbox:
    app.upgrade()
    return Outbox(app.engine)


def send_once(app: App) -> PassReport:
    """`monitor alerts send`: one dispatch pass, as the daemon's tick does."""
    app.router  # noqa: B018 - a broken routes section stops here (ConfigError)
    box = outbox(app)
    senders = build_senders(app.config.settings.channels, app.config.base_dir)

    async def run() -> PassReport:
        db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        dispatcher = Dispatcher(box, senders, app.config.settings.alerts, owner=owner_id(), db=db,
                                descriptions=app.rule_descriptions)
        try:
            await dispatcher.sync_channels()
            return await dispatcher.run()
        finally:
            await dispatcher.aclose()
            db.shutdown(wait=True)

    return asyncio.run(run())


def test_channel(app: App, channel: str) -> Delivery:
    """`monitor alerts test CHANNEL`: one sample message, straight to the channel
    (not through the outbox: it tests the channel, not the queue)."""
    if channel not in app.config.settings.channels:
        raise KeyError(channel)
    senders = build_senders(app.config.settings.channels, app.config.base_dir, only=channel)

    async def run() -> Delivery:
        try:
            return await senders[channel].send(sample(channel, f"msg_test{secrets.token_hex(12)}"))
        finally:
            await senders.aclose()

    return asyncio.run(run())


def digest_now(app: App, channel: str) -> int | None:
    """`monitor alerts digest CHANNEL`: collect the channel's digest now (then `send`)."""
    if channel not in {s.channel for s in schedules(app.config.settings.routes)}:
        raise KeyError(channel)
    return collect(outbox(app), channel)


def retry(app: App, ids: list[int], *, dead: bool) -> Retried:
    return outbox(app).retry(ids, dead=dead)


def enable(app: App, channel: str) -> bool:
    return outbox(app).enable_channel(channel)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    name: str
    type: str
    target: str
    routes: list[str]
    digest: str | None
    disabled: str | None  # why, when a receiver switched it off
    disabled_at: datetime | None
    pending: int
    dead: int


def channels(app: App) -> list[ChannelInfo]:
    box = outbox(app)
    settings = app.config.settings
    disabled = box.disabled_channels()
    digest = {s.channel: f"{s.crontab} {s.timezone}" for s in schedules(settings.routes)}
    counts = box.counts()
    infos = []
    for name, channel in settings.channels.items():
        routes = [f"{','.join(r.rules)} ({r.mode})" for r in settings.routes if r.channel == name]
        state = disabled.get(name)
        infos.append(ChannelInfo(
            name=name, type=channel.type, target=channel.target, routes=routes, digest=digest.get(name),
            disabled=state.reason if state else None, disabled_at=state.disabled_at if state else None,
            pending=counts.get((name, "pending"), 0), dead=counts.get((name, "dead"), 0),
        ))
    return infos


def alert_dict(row: AlertRow, attempts: list[AttemptRow] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id, "kind": row.kind, "channel": row.channel, "mode": row.mode, "state": row.state,
        "rules": list(row.rules), "idempotency_key": row.idempotency_key, "attempts": row.attempts,
        "created_at": iso(row.created_at), "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at), "last_error": row.last_error, "leased_by": row.lease_owner,
        "item_id": row.item_id, "digest_id": row.digest_id, "title": row.title,
    }
    if attempts is not None:
        data["attempt_log"] = [
            {"at": iso(a.at), "ok": a.ok, "status": a.status, "error": a.error, "duration_ms": a.duration_ms}
            for a in attempts
        ]
    return data
