"""The WebSub decisions on their own: signatures, leases, retries, what the operator reads."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.states import SubscriptionState
from monitor.store.websub import SubscriptionView
from monitor.websub import protocol

BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
SECRET = "per-subscription-secret"
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def sign(method: str, body: bytes = BODY, secret: str = SECRET) -> str:
    return f"{method}={hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()}"


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_every_method_of_the_spec_is_checked(method: str) -> None:
    assert protocol.signature_ok(sign(method), BODY, SECRET)
    assert protocol.signature_ok(sign(method).upper().replace(method.upper() + "=", method + "="), BODY, SECRET)
    assert not protocol.signature_ok(sign(method, secret="another secret"), BODY, SECRET)
    assert not protocol.signature_ok(sign(method), BODY + b" ", SECRET)


@pytest.mark.parametrize("header", [
    None, "", "sha256", "sha256=", "=abc", "md5=" + hashlib.md5(BODY).hexdigest(),
    "sha256:" + "0" * 64, "sha256=" + "0" * 64, "sha256=zz", "sha256=\u00e9\u00e9", "sha1=" + "a" * 40,
    sign("sha256")[:-1], sign("sha256") + "0",
])
def test_anything_but_a_good_signature_is_refused(header: str | None) -> None:
    assert not protocol.signature_ok(header, BODY, SECRET)


def test_tokens_and_secrets_are_fresh_and_fit_the_callback() -> None:
    tokens = {protocol.new_token() for _ in range(50)}
    assert len(tokens) == 50 and all(protocol.TOKEN.fullmatch(t) for t in tokens)
    assert len(protocol.new_secret().encode()) < 200  # WebSub 5.1
    assert protocol.callback_url("https://m.example/press/", "tok") == "https://m.example/press/websub/tok"


def test_the_topic_is_the_feeds_own_url_else_the_one_we_poll() -> None:
    assert protocol.topic_of("https://a.example/rss", "https://a.example/feed") == "https://a.example/feed"
    assert protocol.topic_of("https://a.example/rss", None) == "https://a.example/rss"


def test_the_request_asks_for_our_lease_with_our_secret() -> None:
    form = protocol.subscribe_form(callback="https://m/websub/t", topic="https://a/rss", lease_s=86400, secret="s")
    assert form == {"hub.callback": "https://m/websub/t", "hub.mode": "subscribe", "hub.topic": "https://a/rss",
                    "hub.lease_seconds": "86400", "hub.secret": "s"}


@pytest.mark.parametrize(("value", "lease"), [
    ("3600", 3600), (None, 86400), ("", 86400), ("-5", 86400), ("1e9", 86400), ("0", 1),
    ("99999999999999", 86400), (str(10**9), protocol.MAX_LEASE_S),
])
def test_the_granted_lease_is_read_carefully(value: str | None, lease: int) -> None:
    assert protocol.granted_lease(value, 86400) == lease


def test_renewal_comes_before_the_lease_ends() -> None:
    assert protocol.renew_at(NOW, 1000) == NOW + timedelta(seconds=850)


def test_retries_back_off_from_a_minute_to_a_day() -> None:
    rng = random.Random(1)
    delays = [(protocol.retry_at(NOW, n, rng) - NOW).total_seconds() for n in (1, 2, 3, 30)]
    assert 54 <= delays[0] <= 66 and 108 <= delays[1] <= 132 and 216 <= delays[2] <= 264
    assert delays[3] <= 86400 * 1.1


def view(state: SubscriptionState, expires_in_s: float | None = None, error: str | None = None,
         pushes: int = 0, refused: int = 0) -> SubscriptionView:
    expires = NOW + timedelta(seconds=expires_in_s) if expires_in_s is not None else None
    return SubscriptionView(1, state, "https://hub.example/", "https://a/rss", expires, error, pushes, refused, None)


def test_what_the_operator_reads() -> None:
    S = SubscriptionState
    assert protocol.describe(view(S.VERIFIED, 3600, pushes=3, refused=1), NOW) == (
        "push: verified until 2026-12-06 11:00 UTC (3 pushed, 1 refused)")
    assert protocol.describe(view(S.FAILED, None, "cannot connect: refused"), NOW) == (
        "push: hub failed: cannot connect: refused")
    assert protocol.describe(view(S.FAILED, 600, "HTTP 500"), NOW) == (
        "push: hub failed: HTTP 500; still verified until 2026-12-06 10:10 UTC")
    assert protocol.describe(view(S.DENIED, None, "not allowed"), NOW) == "push: hub denied: not allowed"
    assert protocol.describe(view(S.REQUESTED, 600), NOW) == "push: verified until 2026-12-06 10:10 UTC, renewing"
    assert protocol.describe(view(S.REQUESTED), NOW) == "push: asked https://hub.example/, waiting for it to verify"
    assert protocol.describe(view(S.PENDING), NOW) == "push: hub https://hub.example/ found, subscribing"
    assert protocol.describe(view(S.VERIFIED, -60), NOW) == "push: lease ended 2026-12-06 09:59 UTC"


def test_a_denial_is_not_argued_with_for_a_day() -> None:
    assert protocol.retry_after_denial(NOW) == NOW + timedelta(days=1)
