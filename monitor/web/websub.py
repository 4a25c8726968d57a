"""The WebSub callback, `/websub/<token>`: where hubs verify our intent and push content.

Only served with `web.public_url` set. Authenticated by what the hub knows and
nobody else does: the token in the path (256 random bits, one per
subscription) and, for content, the HMAC of the body under the subscription's
own secret (`X-Hub-Signature`). So these routes need no dashboard token, and a
cross-site form posting here can do nothing: it cannot sign.

What an answer reveals is what the spec requires and no more:

* GET, verification of intent (WebSub 5.3): the challenge is echoed only for a
  known token, its own topic, a subscription we asked for and mode
  `subscribe`; anything else is the same plain 404. A denial (`hub.mode=denied`)
  is recorded when token and topic match and answered 200 either way.
* POST, content distribution (WebSub 7, 8): the body is read up to a cap (413
  beyond, before the token is even looked at); unknown token, missing or bad
  signature and good delivery all get the same empty 202, the refusals
  counted (`monitor_websub_pushes_total`; for a known token also its
  `refused`, written after the answer) and logged (an unknown token only at
  debug level: strangers must not fill the log). A signed body goes through the daemon's pipeline before the answer,
  so a hub that gets its 2xx knows the items are stored; when storing fails it
  gets a 503 and delivers again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from monitor import logs, metrics
from monitor.store.websub import SubscriptionStore
from monitor.websub import protocol

log = logs.get("websub")

#: What a signed delivery is handed to: (feed URL, body, headers) -> new items.
Receive = Callable[[str, bytes, Mapping[str, str]], Awaitable[int]]
#: Headers of a delivery that say how to read its body; the rest stay here.
PASSED_HEADERS = ("content-type", "content-language")
#: Signatures are still computed for an unknown token, under this key, so that
#: answering one takes as long as refusing a bad signature.
_NO_SECRET = protocol.new_secret()


@dataclass(frozen=True, slots=True)
class PushHooks:
    """What the daemon gives the web app for WebSub (None: WebSub is off)."""

    receive: Receive
    lease_s: int  # what we asked hubs for: the lease when a hub's verification names none
    max_body_bytes: int


def websub_routes(store: SubscriptionStore, hooks: PushHooks) -> list[Route]:
    async def verify(request: Request) -> Response:
        token: str = request.path_params["token"]
        query = request.query_params
        mode, topic = query.get("hub.mode"), query.get("hub.topic") or ""
        if not protocol.TOKEN.fullmatch(token):
            return _not_found()
        now = datetime.now(UTC)
        if mode == "subscribe":
            challenge = query.get("hub.challenge") or ""
            if not challenge or len(challenge) > protocol.MAX_CHALLENGE:
                return _not_found()
            lease_s = protocol.granted_lease(query.get("hub.lease_seconds"), hooks.lease_s)
            feed_id = await run_in_threadpool(store.verified, token, topic, lease_s=lease_s, now=now,
                                              renew_at=protocol.renew_at(now, lease_s))
            if feed_id is None:
                log.info("websub_verification_refused", topic=topic[:200], client=_client(request))
                return _not_found()
            log.info("websub_verified", feed_id=feed_id, topic=topic, lease_s=lease_s)
            return PlainTextResponse(challenge, headers={"Cache-Control": "no-store"})
        if mode == "denied":
            reason = " ".join((query.get("hub.reason") or "no reason given").split())[:200]
            feed_id = await run_in_threadpool(store.denied, token, topic, reason=reason, now=now,
                                              retry_at=protocol.retry_after_denial(now))
            if feed_id is not None:
                log.warning("websub_denied", feed_id=feed_id, topic=topic, reason=reason)
            return Response(status_code=200)
        return _not_found()  # unsubscribe: we never ask for one

    async def push(request: Request) -> Response:
        token: str = request.path_params["token"]
        body = await request.body()  # capped by the route (413 beyond)
        sub = await run_in_threadpool(store.callback, token) if protocol.TOKEN.fullmatch(token) else None
        header = request.headers.get("x-hub-signature")
        good = protocol.signature_ok(header, body, sub.secret if sub else _NO_SECRET)
        result = "accepted" if sub and good else "unknown" if sub is None else "unsigned" if not header \
            else "bad-signature"
        metrics.record_push(result)
        if sub is None:  # at debug level: strangers must not fill the log
            log.debug("push_refused", reason=result, bytes=len(body), client=_client(request))
            return _accepted()
        if not good:  # counted after answering, so the answer takes no longer than for an unknown token
            log.warning("push_refused", reason=result, feed=sub.feed_url, bytes=len(body), client=_client(request))
            return _accepted(BackgroundTask(store.record_push, sub.id, accepted=False, now=datetime.now(UTC)))
        await run_in_threadpool(store.record_push, sub.id, accepted=True, now=datetime.now(UTC))
        if not sub.feed_enabled:
            log.info("push_ignored", feed=sub.feed_url, reason="feed disabled")
            return _accepted()
        headers = {name: value for name in PASSED_HEADERS if (value := request.headers.get(name))}
        try:
            await hooks.receive(sub.feed_url, body, headers)
        except Exception as exc:  # the hub delivers again on a non-2xx answer
            log.error("push_failed", feed=sub.feed_url, error=f"{type(exc).__name__}: {exc}")
            return Response(status_code=503)
        return _accepted()

    return [
        Route("/websub/{token}", verify, methods=["GET"], name="websub_verify"),
        Route("/websub/{token}", push, methods=["POST"], name="websub_push", max_body_size=hooks.max_body_bytes),
    ]


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404, headers={"Cache-Control": "no-store"})


def _accepted(then: BackgroundTask | None = None) -> Response:
    return Response(status_code=202, background=then)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
