"""Every state a stored row can be in, defined once.

String enums: they compare equal to the strings stored in the database and
printed by the CLI, so a state is written the same way everywhere.
"""

from __future__ import annotations

from enum import StrEnum


class AlertState(StrEnum):
    """Where an outbox row stands."""

    PENDING = "pending"
    """Waiting for delivery, a retry, or (digest mode) its channel's digest."""
    DIGESTED = "digested"
    """Folded into a digest row that is not sent yet."""
    SENT = "sent"
    """Delivered: the receiver acknowledged it (or the digest holding it)."""
    DEAD = "dead"
    """Every attempt failed; `monitor alerts retry` re-drives it."""
    SUPPRESSED = "suppressed"
    """Never sent: its story was marked not relevant before delivery."""


class AlertMode(StrEnum):
    """How an alert reaches its channel."""

    IMMEDIATE = "immediate"
    """On its own, as soon as quiet hours allow."""
    DIGEST = "digest"
    """Only inside the channel's digest, at its cron time."""


class FeedHealth(StrEnum):
    """What an operator looks for first in a feed (`FeedState.health`)."""

    NEW = "new"
    """Never polled successfully yet."""
    OK = "ok"
    """The last poll succeeded and the feed publishes as usual."""
    BACKING_OFF = "backing-off"
    """The last poll failed; the next is delayed with backoff."""
    STALE = "stale"
    """Polls succeed but nothing new has come for much longer than usual."""
    DISABLED = "disabled"
    """Not polled: removed from the config, or gone (HTTP 410)."""


class SubscriptionState(StrEnum):
    """Where a WebSub subscription stands (`monitor.websub`)."""

    PENDING = "pending"
    """The feed names a hub; we have not asked it yet."""
    REQUESTED = "requested"
    """We asked the hub (to subscribe or to renew) and wait for it to verify our intent."""
    VERIFIED = "verified"
    """The hub verified: it pushes the feed's updates until `expires_at`; renewed before then."""
    FAILED = "failed"
    """The hub could not be reached, refused, or never verified; asked again after a backoff."""
    DENIED = "denied"
    """The hub denied the subscription (`hub.mode=denied`); asked again after a backoff."""
