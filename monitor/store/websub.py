"""WebSub subscriptions: one row per feed that names a hub (`websub_subscriptions`).

Every operation is one statement or one transaction and safe from any instance:
a poll that finds a hub upserts the row (two instances finding it together make
one row); the subscriber job claims due rows with a lease, as feeds are claimed,
so only one instance asks a hub at a time; the hub's verification and pushes may
reach any instance, which finds the subscription here by its token. A result the
job writes back is conditional on the row still being ours and still in the
state we left it in, so a verification that came first is never overwritten.

A verified subscription sets its feed's `push_until` (polling slows down); a
failure never extends it, so it lapses at the end of the lease it had, and the
feed's next poll is brought forward to then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.states import SubscriptionState
from monitor.store.models import Feed, Subscription

subs_t = cast(Table, Subscription.__table__)
feeds_t = cast(Table, Feed.__table__)

MAX_ERROR = 500  # characters of a hub's error kept


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed subscription the job must act on."""

    id: int
    feed_id: int
    hub: str
    topic: str
    token: str
    secret: str
    state: SubscriptionState
    failures: int


@dataclass(frozen=True, slots=True)
class Callback:
    """What a callback request needs to know about its token."""

    id: int
    feed_id: int
    feed_url: str
    feed_enabled: bool
    topic: str
    secret: str


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription as the operator sees it (`monitor.websub.protocol.describe`)."""

    feed_id: int
    state: SubscriptionState
    hub: str
    topic: str
    expires_at: datetime | None
    last_error: str | None
    pushes: int
    refused: int
    last_push_at: datetime | None


class SubscriptionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    # discovery ---------------------------------------------------------------

    def known(self) -> dict[int, tuple[str, str]]:
        """feed id -> (hub, topic) of every subscription."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(subs_t.c.feed_id, subs_t.c.hub, subs_t.c.topic)).all()
        return {r.feed_id: (r.hub, r.topic) for r in rows}

    def discovered(self, feed_id: int, hub: str, topic: str, *, token: str, secret: str, now: datetime) -> bool:
        """The feed names `hub` for `topic`: a new subscription, due now, or, if it named
        another hub or topic, a fresh one (new token and secret) in place of the old,
        whose pushes stop counting. False when nothing changed."""
        fresh: dict[str, Any] = {
            "hub": hub, "topic": topic, "token": token, "secret": secret, "state": SubscriptionState.PENDING.value,
            "lease_s": None, "expires_at": None, "requested_at": None, "verified_at": None, "last_error": None,
            "due_at": now, "failures": 0, "claimed_by": None, "claimed_until": None,
        }
        insert = (postgresql.insert if self._postgres else sqlite.insert)(subs_t)
        statement = insert.values(feed_id=feed_id, pushes=0, refused=0, **fresh).on_conflict_do_update(
            index_elements=[subs_t.c.feed_id],
            set_=fresh,
            where=or_(subs_t.c.hub != insert.excluded.hub, subs_t.c.topic != insert.excluded.topic),
        ).returning(subs_t.c.id)
        with self.engine.begin() as conn:
            changed = conn.execute(statement).first() is not None
            if changed:
                conn.execute(update(feeds_t).where(feeds_t.c.id == feed_id).values(push_until=None))
        return changed

    def forget(self, feed_id: int) -> bool:
        """The feed no longer names a hub: drop its subscription (pushes to its token
        are refused from now on) and poll it at the latency target again."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(subs_t).where(subs_t.c.feed_id == feed_id)).rowcount
            if gone:
                conn.execute(update(feeds_t).where(feeds_t.c.id == feed_id).values(push_until=None))
        return bool(gone)

    # the subscriber job ---------------------------------------------------------

    def claim_due(self, owner: str, lease: timedelta, limit: int, *, now: datetime) -> list[Due]:
        """Lease up to `limit` subscriptions due by `now` (of enabled feeds) to `owner`."""
        enabled = select(feeds_t.c.id).where(feeds_t.c.enabled.is_(True))
        due = (
            select(subs_t.c.id)
            .where(subs_t.c.due_at <= now, subs_t.c.feed_id.in_(enabled),
                   or_(subs_t.c.claimed_until.is_(None), subs_t.c.claimed_until < now))
            .order_by(subs_t.c.due_at, subs_t.c.id)
            .limit(limit)
        )
        if self._postgres:
            due = due.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            rows = conn.execute(
                update(subs_t).where(subs_t.c.id.in_(due.scalar_subquery()))
                .values(claimed_by=owner, claimed_until=now + lease)
                .returning(subs_t.c.id, subs_t.c.feed_id, subs_t.c.hub, subs_t.c.topic, subs_t.c.token,
                           subs_t.c.secret, subs_t.c.state, subs_t.c.failures)
            ).all()
        return sorted((Due(r.id, r.feed_id, r.hub, r.topic, r.token, r.secret, SubscriptionState(r.state),
                           r.failures) for r in rows), key=lambda d: d.id)

    def requesting(self, sub_id: int, owner: str, *, now: datetime) -> bool:
        """About to ask the hub: from now on its verification is welcome. False if the
        claim was lost."""
        return self._update_claimed(sub_id, owner, state=SubscriptionState.REQUESTED.value, requested_at=now)

    def accepted(self, sub_id: int, owner: str, *, verify_by: datetime) -> None:
        """The hub took the request: wait for its verification until `verify_by` (unless
        it already came) and give the claim back."""
        with self.engine.begin() as conn:
            conn.execute(update(subs_t).where(subs_t.c.id == sub_id, subs_t.c.claimed_by == owner).values(
                due_at=case((subs_t.c.state == SubscriptionState.REQUESTED.value, verify_by), else_=subs_t.c.due_at),
                claimed_by=None, claimed_until=None,
            ))

    def failed(self, sub_id: int, owner: str, *, error: str, now: datetime, retry_at: datetime) -> bool:
        """The request failed (or was never verified): say why, ask again at `retry_at`, and
        let the feed's push lapse at the end of the lease it has, polling it from then."""
        with self.engine.begin() as conn:
            row = conn.execute(
                update(subs_t)
                .where(subs_t.c.id == sub_id, subs_t.c.claimed_by == owner,
                       subs_t.c.state == SubscriptionState.REQUESTED.value)
                .values(state=SubscriptionState.FAILED.value, last_error=error[:MAX_ERROR], due_at=retry_at,
                        failures=subs_t.c.failures + 1, claimed_by=None, claimed_until=None)
                .returning(subs_t.c.feed_id, subs_t.c.expires_at)
            ).first()
            if row is None:  # verified meanwhile, or no longer ours
                self.release_one(conn, sub_id, owner)
                return False
            lapse = max(row.expires_at, now) if row.expires_at is not None else now
            self._poll_by(conn, row.feed_id, lapse)
        return True

    def release(self, owner: str) -> int:
        """Give back every claim we hold (clean shutdown)."""
        with self.engine.begin() as conn:
            return conn.execute(update(subs_t).where(subs_t.c.claimed_by == owner)
                                .values(claimed_by=None, claimed_until=None)).rowcount

    @staticmethod
    def release_one(conn: Any, sub_id: int, owner: str) -> None:
        conn.execute(update(subs_t).where(subs_t.c.id == sub_id, subs_t.c.claimed_by == owner)
                     .values(claimed_by=None, claimed_until=None))

    def _update_claimed(self, sub_id: int, owner: str, **values: object) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(
                update(subs_t).where(subs_t.c.id == sub_id, subs_t.c.claimed_by == owner).values(**values)
            ).rowcount)

    @staticmethod
    def _poll_by(conn: Any, feed_id: int, when: datetime) -> None:
        """Bring the feed's next poll forward to `when` if it is later."""
        conn.execute(update(feeds_t).where(
            feeds_t.c.id == feed_id, or_(feeds_t.c.next_poll_at.is_(None), feeds_t.c.next_poll_at > when)
        ).values(next_poll_at=when))

    # the callback ----------------------------------------------------------------

    def callback(self, token: str) -> Callback | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(subs_t.c.id, subs_t.c.feed_id, feeds_t.c.url, feeds_t.c.enabled, subs_t.c.topic,
                       subs_t.c.secret)
                .join(feeds_t, feeds_t.c.id == subs_t.c.feed_id)
                .where(subs_t.c.token == token)
            ).first()
        return Callback(row.id, row.feed_id, row.url, row.enabled, row.topic, row.secret) if row else None

    def verified(self, token: str, topic: str, *, lease_s: int, now: datetime, renew_at: datetime) -> int | None:
        """The hub verifies a subscription we asked for (known token, same topic, a
        request sent, feed enabled): record the lease and push until its end. The
        feed id, or None when we do not want this subscription (answer 404)."""
        with self.engine.begin() as conn:
            expires = now + timedelta(seconds=lease_s)
            row = conn.execute(
                update(subs_t)
                .where(subs_t.c.token == token, subs_t.c.topic == topic, subs_t.c.requested_at.is_not(None),
                       subs_t.c.feed_id.in_(select(feeds_t.c.id).where(feeds_t.c.enabled.is_(True))))
                .values(state=SubscriptionState.VERIFIED.value, lease_s=lease_s, expires_at=expires,
                        verified_at=now, due_at=renew_at, failures=0, last_error=None)
                .returning(subs_t.c.feed_id)
            ).first()
            if row is None:
                return None
            conn.execute(update(feeds_t).where(feeds_t.c.id == row.feed_id).values(push_until=expires))
        return int(row.feed_id)

    def denied(self, token: str, topic: str, *, reason: str, now: datetime, retry_at: datetime) -> int | None:
        """The hub denies the subscription (`hub.mode=denied`): no push from now on, and
        the feed polled at once. The feed id, or None for an unknown token or topic."""
        with self.engine.begin() as conn:
            row = conn.execute(
                update(subs_t)
                .where(subs_t.c.token == token, subs_t.c.topic == topic, subs_t.c.requested_at.is_not(None))
                .values(state=SubscriptionState.DENIED.value, last_error=reason[:MAX_ERROR], expires_at=None,
                        due_at=retry_at, failures=subs_t.c.failures + 1)
                .returning(subs_t.c.feed_id)
            ).first()
            if row is None:
                return None
            conn.execute(update(feeds_t).where(feeds_t.c.id == row.feed_id).values(push_until=None))
            self._poll_by(conn, row.feed_id, now)
        return int(row.feed_id)

    def record_push(self, sub_id: int, *, accepted: bool, now: datetime) -> None:
        """Count a delivery: accepted (signed with our secret) or refused."""
        values = ({"pushes": subs_t.c.pushes + 1, "last_push_at": now} if accepted
                  else {"refused": subs_t.c.refused + 1})
        with self.engine.begin() as conn:
            conn.execute(update(subs_t).where(subs_t.c.id == sub_id).values(**values))

    # display -----------------------------------------------------------------------

    def views(self, feed_ids: Sequence[int] | None = None) -> dict[int, SubscriptionView]:
        """feed id -> its subscription, for `monitor feeds` and the dashboard."""
        query = select(subs_t.c.feed_id, subs_t.c.state, subs_t.c.hub, subs_t.c.topic, subs_t.c.expires_at,
                       subs_t.c.last_error, subs_t.c.pushes, subs_t.c.refused, subs_t.c.last_push_at)
        if feed_ids is not None:
            query = query.where(subs_t.c.feed_id.in_(feed_ids))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {r.feed_id: SubscriptionView(r.feed_id, SubscriptionState(r.state), r.hub, r.topic, r.expires_at,
                                            r.last_error, r.pushes, r.refused, r.last_push_at) for r in rows}
