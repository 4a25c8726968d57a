"""What WebSub says, as pure decisions: no I/O, no clock but the one passed in.

References are to the W3C Recommendation (https://www.w3.org/TR/websub/).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
from datetime import datetime, timedelta
from typing import Final

from monitor.present.dates import when
from monitor.states import SubscriptionState
from monitor.store.websub import SubscriptionView

#: Renew when this share of the lease has run (the hub's clock may differ from ours).
RENEW_AT: Final = 0.85
#: A hub that accepted a request must verify within this long, else it failed.
VERIFY_WITHIN_S: Final = 600
#: Leases outside these bounds are clamped: a hub granting 0 s or 100 years is wrong.
MIN_LEASE_S: Final = 1
MAX_LEASE_S: Final = 366 * 86_400
#: After a failure or a denial: FIRST_RETRY_S, doubling, at most MAX_RETRY_S.
FIRST_RETRY_S: Final = 60
MAX_RETRY_S: Final = 86_400
JITTER: Final = 0.1
#: A challenge longer than this is not echoed (hubs send a few dozen characters).
MAX_CHALLENGE: Final = 1024

#: `X-Hub-Signature: <method>=<hex>` methods (WebSub 8); sha1 is allowed by the
#: spec and still a sound HMAC.
ALGORITHMS: Final = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
                     "sha512": hashlib.sha512}
#: What `new_token` makes: the callback path segment, 256 random bits.
TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """The callback's last path segment: unguessable, URL-safe (matches TOKEN)."""
    return secrets.token_urlsafe(32)


def new_secret() -> str:
    """`hub.secret` for one subscription (WebSub 5.1: fewer than 200 bytes)."""
    return secrets.token_urlsafe(48)


def topic_of(feed_url: str, self_url: str | None) -> str:
    """The topic to subscribe to: the feed's own rel="self" URL, else the URL we poll."""
    return self_url or feed_url


def callback_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/websub/{token}"


def subscribe_form(*, callback: str, topic: str, lease_s: int, secret: str) -> dict[str, str]:
    """The subscription request (WebSub 5.1), also sent to renew."""
    return {"hub.callback": callback, "hub.mode": "subscribe", "hub.topic": topic,
            "hub.lease_seconds": str(lease_s), "hub.secret": secret}


def granted_lease(value: str | None, asked_s: int) -> int:
    """The lease in a verification request (`hub.lease_seconds`), clamped; what we
    asked for if the hub sent none or nonsense."""
    seconds = int(value) if value is not None and value.isdigit() and len(value) < 12 else asked_s
    return min(max(seconds, MIN_LEASE_S), MAX_LEASE_S)


def renew_at(verified_at: datetime, lease_s: int) -> datetime:
    return verified_at + timedelta(seconds=lease_s * RENEW_AT)


def retry_at(now: datetime, failures: int, rng: random.Random = random._inst) -> datetime:  # type: ignore[attr-defined]
    """When to ask again after `failures` failed or denied requests in a row."""
    delay = min(FIRST_RETRY_S * 2 ** min(max(failures - 1, 0), 20), MAX_RETRY_S)
    return now + timedelta(seconds=delay * (1 + rng.uniform(-JITTER, JITTER)))


def retry_after_denial(now: datetime) -> datetime:
    """A hub that denied a subscription is asked again after the longest backoff."""
    return now + timedelta(seconds=MAX_RETRY_S)


def signature_ok(header: str | None, body: bytes, secret: str) -> bool:
    """True when `header` (X-Hub-Signature) is `<method>=<hex HMAC of body under secret>`
    for a method of ALGORITHMS. Compared in constant time; anything malformed is False."""
    if not header:
        return False
    method, _, given = header.strip().partition("=")
    digest = ALGORITHMS.get(method.strip().lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest().encode("ascii")
    return hmac.compare_digest(expected, given.strip().lower().encode("utf-8", errors="replace"))


def describe(sub: SubscriptionView, now: datetime) -> str:
    """A subscription in one line for the operator: "push: verified until …",
    "push: hub failed: …" (`monitor feeds`, the dashboard's feeds page)."""
    running = sub.expires_at is not None and sub.expires_at > now
    until = f"verified until {when(sub.expires_at)}" if running else None
    counts = f" ({sub.pushes} pushed, {sub.refused} refused)" if sub.pushes or sub.refused else ""
    if sub.state == SubscriptionState.VERIFIED:
        return f"push: {until}{counts}" if until else f"push: lease ended {when(sub.expires_at)}{counts}"
    if sub.state == SubscriptionState.FAILED:
        return f"push: hub failed: {sub.last_error or 'no reason given'}" + (f"; still {until}" if until else "")
    if sub.state == SubscriptionState.DENIED:
        return f"push: hub denied: {sub.last_error or 'no reason given'}"
    if sub.state == SubscriptionState.REQUESTED:
        return f"push: {until}, renewing{counts}" if until else f"push: asked {sub.hub}, waiting for it to verify"
    return f"push: hub {sub.hub} found, subscribing"
