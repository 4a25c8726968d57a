"""The outbox, typed: claim due alerts, record attempts, dead-letter, re-drive,
collect digests, and read what an alert is about. No SQL leaves this module.

Claims work like feed claims (`monitor.store.feeds`): one transaction selects
due rows (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN IMMEDIATE
serialises writers) and leases them to one owner, so two dispatchers, in one
process or on two machines, never hold the same alert. A holder that dies
simply lets its lease expire; the next claimer records the abandoned attempt
and delivers again under the same idempotency key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from monitor.states import AlertMode, AlertState
from monitor.store.engine import database_now
from monitor.store.matches import Match, read_match
from monitor.store.models import Alert, ChannelState, DeliveryAttempt, StoredItem

alerts_t = Alert.__table__
attempts_t = DeliveryAttempt.__table__
channels_t = ChannelState.__table__
items_t = StoredItem.__table__



@dataclass(frozen=True, slots=True)
class Claimed:
    """An alert leased to us: deliver it, then record the outcome."""

    id: int
    kind: str  # "item" or "digest"
    item_id: int | None
    channel: str
    rules: tuple[str, ...]
    idempotency_key: str
    attempts: int  # including the one now starting
    created_at: datetime
    period_start: datetime | None


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert as `monitor alerts list` shows it."""

    id: int
    kind: str
    channel: str
    mode: str
    state: str
    rules: tuple[str, ...]
    idempotency_key: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    lease_owner: str | None
    item_id: int | None
    digest_id: int | None
    title: str | None  # the item's headline; None for a digest


@dataclass(frozen=True, slots=True)
class AttemptRow:
    at: datetime
    ok: bool
    status: str | None
    error: str | None
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class DisabledChannel:
    channel: str
    disabled_at: datetime
    reason: str
    config_hash: str


@dataclass(frozen=True, slots=True)
class Retried:
    ids: tuple[int, ...]
    refused: tuple[tuple[int, str], ...]  # (id, why not)


class Outbox:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._skip_locked = engine.dialect.name == "postgresql"

    # claiming and recording ------------------------------------------------

    def now(self) -> datetime:
        """The database's time: instances whose clocks disagree agree on leases and due times."""
        with self.engine.connect() as conn:
            return database_now(conn)

    def claim_due(
        self,
        owner: str,
        lease: timedelta,
        limit: int,
        *,
        channels: Collection[str],
        exclude: Collection[int] = (),
        now: datetime | None = None,
    ) -> list[Claimed]:
        """Lease up to `limit` due alerts of `channels` (enabled ones only) to `owner`.

        Counting the attempt here, not when it ends, means a message that crashes
        the dispatcher every time still runs out of attempts instead of looping.
        """
        now = now or self.now()  # leases and due times on the database's clock
        if not channels or limit < 1:
            return []
        disabled = select(channels_t.c.channel)
        due = (
            select(alerts_t.c.id, alerts_t.c.lease_owner)
            .where(
                alerts_t.c.state == AlertState.PENDING,
                or_(alerts_t.c.kind == "digest", alerts_t.c.mode == AlertMode.IMMEDIATE),
                alerts_t.c.next_attempt_at <= now,
                or_(alerts_t.c.lease_until.is_(None), alerts_t.c.lease_until < now),
                alerts_t.c.channel.in_(list(channels)),
                alerts_t.c.channel.not_in(disabled),
            )
            .order_by(alerts_t.c.next_attempt_at, alerts_t.c.id)
            .limit(limit)
        )
        if exclude:
            due = due.where(alerts_t.c.id.not_in(list(exclude)))
        if self._skip_locked:
            due = due.with_for_update(of=alerts_t, skip_locked=True)
        with self.engine.begin() as conn:
            picked = conn.execute(due).all()
            if not picked:
                return []
            abandoned = [
                {"alert_id": r.id, "at": now, "ok": False, "status": None,
                 "error": f"abandoned: {r.lease_owner} took it and its lease expired without an outcome"}
                for r in picked if r.lease_owner is not None
            ]
            if abandoned:
                conn.execute(attempts_t.insert(), abandoned)
            rows = conn.execute(
                update(alerts_t)
                .where(alerts_t.c.id.in_([r.id for r in picked]))
                .values(lease_owner=owner, lease_until=now + lease, attempts=alerts_t.c.attempts + 1)
                .returning(
                    alerts_t.c.id, alerts_t.c.kind, alerts_t.c.item_id, alerts_t.c.channel, alerts_t.c.rules,
                    alerts_t.c.idempotency_key, alerts_t.c.attempts, alerts_t.c.created_at,
                    alerts_t.c.period_start,
                )
            ).all()
        claimed = [
            Claimed(r.id, r.kind, r.item_id, r.channel, tuple(r.rules), r.idempotency_key, r.attempts,
                    r.created_at, r.period_start)
            for r in rows
        ]
        return sorted(claimed, key=lambda c: c.id)

    def record_success(
        self, alert_id: int, *, at: datetime, status: str | None, duration_ms: int | None = None
    ) -> None:
        """Delivered: whoever holds the lease now, the message is out, so it is sent.

        Also when its story was marked not relevant while it was being sent
        (suppressed meanwhile): the receiver has it, so the outbox says so; the
        story keeps its mark.
        """
        with self.engine.begin() as conn:
            self._attempt(conn, alert_id, at, True, status, None, duration_ms)
            conn.execute(
                update(alerts_t)
                .where(alerts_t.c.id == alert_id, alerts_t.c.state.in_((AlertState.PENDING, AlertState.SUPPRESSED)))
                .values(state=AlertState.SENT, sent_at=at, lease_owner=None, lease_until=None, last_error=None)
            )
            # The members of a digest are delivered with it.
            conn.execute(
                update(alerts_t)
                .where(alerts_t.c.digest_id == alert_id, alerts_t.c.state == AlertState.DIGESTED)
                .values(state=AlertState.SENT, sent_at=at)
            )

    def record_failure(
        self,
        alert_id: int,
        owner: str,
        *,
        at: datetime,
        status: str | None,
        error: str,
        retry_at: datetime | None,
        duration_ms: int | None = None,
    ) -> bool:
        """A failed attempt; `retry_at` None means it was the last one (dead).

        The schedule is only changed while we still hold the lease: if it
        expired meanwhile, someone else owns the alert's future. An alert whose
        story was marked not relevant while it was being sent stays suppressed:
        no retry.
        """
        with self.engine.begin() as conn:
            self._attempt(conn, alert_id, at, False, status, error, duration_ms)
            values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": error}
            if retry_at is None:
                values.update(state=AlertState.DEAD, next_attempt_at=None)
            else:
                values["next_attempt_at"] = retry_at
            ours = (alerts_t.c.id == alert_id, alerts_t.c.lease_owner == owner)
            rescheduled = conn.execute(
                update(alerts_t).where(*ours, alerts_t.c.state == AlertState.PENDING).values(**values)
            )
            if rescheduled.rowcount:
                return True
            conn.execute(
                update(alerts_t).where(*ours, alerts_t.c.state == AlertState.SUPPRESSED)
                .values(lease_owner=None, lease_until=None, last_error=error)
            )
            return False

    def release(self, owner: str) -> int:
        """Give back our leases (clean shutdown): the attempt did not happen."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(alerts_t)
                .where(alerts_t.c.lease_owner == owner, alerts_t.c.state == AlertState.PENDING)
                .values(lease_owner=None, lease_until=None, attempts=alerts_t.c.attempts - 1)
            ).rowcount

    @staticmethod
    def _attempt(
        conn: Connection, alert_id: int, at: datetime, ok: bool, status: str | None, error: str | None,
        duration_ms: int | None,
    ) -> None:
        conn.execute(
            insert(attempts_t).values(
                alert_id=alert_id, at=at, ok=ok, status=(status or None) and status[:200],
                error=error, duration_ms=duration_ms,
            )
        )

    # operators -------------------------------------------------------------

    def retry(self, ids: Sequence[int] = (), *, dead: bool = False, now: datetime | None = None) -> Retried:
        """Re-drive alerts now, with a fresh set of attempts: the given ids, or every dead one."""
        now = now or self.now()  # leases and due times on the database's clock
        refused: list[tuple[int, str]] = []
        with self.engine.begin() as conn:
            if dead:
                targets = list(conn.execute(select(alerts_t.c.id).where(alerts_t.c.state == AlertState.DEAD)).scalars())
            else:
                rows = {r.id: r for r in conn.execute(
                    select(alerts_t.c.id, alerts_t.c.state, alerts_t.c.mode, alerts_t.c.kind,
                           alerts_t.c.digest_id).where(alerts_t.c.id.in_(list(ids)))
                ).all()}
                targets = []
                for alert_id in ids:
                    row = rows.get(alert_id)
                    if row is None:
                        refused.append((alert_id, "no such alert"))
                    elif row.state == AlertState.SENT:
                        refused.append((alert_id, "already delivered"))
                    elif row.state == AlertState.DIGESTED:
                        refused.append((alert_id, f"part of digest {row.digest_id}: retry that one"))
                    elif row.kind == "item" and row.mode == AlertMode.DIGEST:
                        refused.append((alert_id, "waits for its channel's digest"))
                    else:
                        targets.append(alert_id)
            if targets:
                conn.execute(
                    update(alerts_t)
                    .where(alerts_t.c.id.in_(targets))
                    .values(state=AlertState.PENDING, attempts=0, next_attempt_at=now, lease_owner=None,
                            lease_until=None)
                )
        return Retried(tuple(targets), tuple(refused))

    def disable_channel(self, channel: str, reason: str, config_hash: str, now: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(channels_t).where(channels_t.c.channel == channel))
            conn.execute(
                insert(channels_t).values(channel=channel, disabled_at=now or _now(), reason=reason,
                                          config_hash=config_hash)
            )

    def enable_channel(self, channel: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(channels_t).where(channels_t.c.channel == channel)).rowcount)

    def disabled_channels(self) -> dict[str, DisabledChannel]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(channels_t)).all()
        return {r.channel: DisabledChannel(r.channel, r.disabled_at, r.reason, r.config_hash) for r in rows}

    def sync_channels(self, config_hashes: Mapping[str, str]) -> list[str]:
        """At start and reload: channels whose config changed since they were
        disabled get another chance. Returns the names re-enabled."""
        enabled = []
        with self.engine.begin() as conn:
            for row in conn.execute(select(channels_t)).all():
                current = config_hashes.get(row.channel)
                if current is not None and current != row.config_hash:
                    conn.execute(delete(channels_t).where(channels_t.c.channel == row.channel))
                    enabled.append(row.channel)
        return enabled

    # digests -----------------------------------------------------------------

    def collect_digest(self, channel: str, key: str, cutoff: datetime, now: datetime | None = None) -> int | None:
        """Fold the channel's waiting digest alerts created up to `cutoff` (the
        period's end, the digest's `created_at`) into one new digest row, due
        `now`; None when there was nothing to collect.

        Safe to run from several instances at once: the key is unique, and a row
        already folded by a concurrent run no longer matches `state = 'pending'`.
        """
        now = now or self.now()  # leases and due times on the database's clock
        with self.engine.begin() as conn:
            exists = conn.execute(select(alerts_t.c.id).where(alerts_t.c.idempotency_key == key)).scalar()
            if exists is not None:
                return None
            digest_id = conn.execute(
                insert(alerts_t)
                .values(kind="digest", item_id=None, channel=channel, mode=AlertMode.DIGEST, rules=[],
                        idempotency_key=key, state=AlertState.PENDING, attempts=0, next_attempt_at=now,
                        created_at=cutoff)
                .returning(alerts_t.c.id)
            ).scalar_one()
            members = conn.execute(
                update(alerts_t)
                .where(alerts_t.c.channel == channel, alerts_t.c.kind == "item", alerts_t.c.mode == AlertMode.DIGEST,
                       alerts_t.c.state == AlertState.PENDING, alerts_t.c.created_at <= cutoff)
                .values(state=AlertState.DIGESTED, digest_id=digest_id)
                .returning(alerts_t.c.rules, alerts_t.c.created_at)
            ).all()
            if not members:
                conn.execute(delete(alerts_t).where(alerts_t.c.id == digest_id))
                return None
            rules = list(dict.fromkeys(rule for m in members for rule in m.rules))
            conn.execute(
                update(alerts_t).where(alerts_t.c.id == digest_id)
                .values(rules=rules, period_start=min(m.created_at for m in members))
            )
        return int(digest_id)

    def waiting_digest_since(self, channel: str) -> datetime | None:
        """The oldest digest alert of the channel still waiting, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.min(alerts_t.c.created_at)).where(
                    alerts_t.c.channel == channel, alerts_t.c.kind == "item", alerts_t.c.mode == AlertMode.DIGEST,
                    alerts_t.c.state == AlertState.PENDING,
                )
            ).scalar()

    def digest_members(self, digest_id: int) -> list[tuple[int, str, tuple[str, ...], datetime]]:
        """(item id, idempotency key, rules, created) of each alert a digest carries."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(alerts_t.c.item_id, alerts_t.c.idempotency_key, alerts_t.c.rules, alerts_t.c.created_at)
                .where(alerts_t.c.digest_id == digest_id)
                .order_by(alerts_t.c.created_at, alerts_t.c.id)
            ).all()
        return [(int(r.item_id), r.idempotency_key, tuple(r.rules), r.created_at) for r in rows]

    # reading -----------------------------------------------------------------

    def item(self, item_id: int, rules: Collection[str] | None = None) -> Match:
        """An alert's story: the item, its hits (of `rules`), and every copy of it
        stored so far, so sources that arrived before delivery are shown too."""
        with self.engine.connect() as conn:
            match = read_match(conn, item_id, rules)
        if match is None:
            raise LookupError(f"no stored item {item_id}")
        return match

    def list(
        self, *, state: str | None = None, channel: str | None = None, limit: int = 100
    ) -> list[AlertRow]:
        query = (
            select(alerts_t, items_t.c.title)
            .select_from(alerts_t.outerjoin(items_t, items_t.c.id == alerts_t.c.item_id))
            .order_by(alerts_t.c.id.desc())
            .limit(limit)
        )
        if state is not None:
            query = query.where(alerts_t.c.state == state)
        if channel is not None:
            query = query.where(alerts_t.c.channel == channel)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AlertRow(
                id=r.id, kind=r.kind, channel=r.channel, mode=r.mode, state=r.state, rules=tuple(r.rules),
                idempotency_key=r.idempotency_key, attempts=r.attempts, created_at=r.created_at,
                next_attempt_at=r.next_attempt_at, sent_at=r.sent_at, last_error=r.last_error,
                lease_owner=r.lease_owner, item_id=r.item_id, digest_id=r.digest_id, title=r.title,
            )
            for r in rows
        ]

    def get(self, alert_id: int) -> AlertRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                select(alerts_t, items_t.c.title)
                .select_from(alerts_t.outerjoin(items_t, items_t.c.id == alerts_t.c.item_id))
                .where(alerts_t.c.id == alert_id)
            ).first()
        if r is None:
            return None
        return AlertRow(
            id=r.id, kind=r.kind, channel=r.channel, mode=r.mode, state=r.state, rules=tuple(r.rules),
            idempotency_key=r.idempotency_key, attempts=r.attempts, created_at=r.created_at,
            next_attempt_at=r.next_attempt_at, sent_at=r.sent_at, last_error=r.last_error,
            lease_owner=r.lease_owner, item_id=r.item_id, digest_id=r.digest_id, title=r.title,
        )

    def attempts(self, alert_id: int) -> list[AttemptRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(attempts_t).where(attempts_t.c.alert_id == alert_id).order_by(attempts_t.c.id)
            ).all()
        return [AttemptRow(r.at, r.ok, r.status, r.error, r.duration_ms) for r in rows]

    def counts(self) -> dict[tuple[str, str], int]:
        """Alerts per (channel, state)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(alerts_t.c.channel, alerts_t.c.state, func.count())
                .group_by(alerts_t.c.channel, alerts_t.c.state)
            ).all()
        return {(channel, state): int(n) for channel, state, n in rows}


def digest_key(channel: str, cutoff: datetime) -> str:
    """One digest per channel and period, whichever instance collects it."""
    stamp = cutoff.astimezone(UTC).replace(second=0, microsecond=0).isoformat()
    digest = hashlib.sha256(f"digest\0{channel}\0{stamp}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def _now() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "AlertRow", "AttemptRow", "Claimed", "DisabledChannel", "Outbox", "Retried", "digest_key",
]
