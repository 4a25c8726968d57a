"""The read API: `/api/v1/matches`, `/api/v1/feeds` and their OpenAPI description.

Off unless `web.api_token` names a secret: without one every /api/ path is a
404, as if it did not exist. With one, each request must carry
`Authorization: Bearer <token>`, compared in constant time over SHA-256
digests (neither the token nor its length leaks through timing). Every
request, refused or not, first takes a token from its client address's
bucket (`web.api_rate_per_minute`); an empty bucket is a 429 with
Retry-After, so guessing the token is as slow as using it.

Matches come newest first, in pages cut by keyset (`DashboardQueries.match_slice`):
the `next` cursor is the last story's (stored at, id), so stories stored while
a client pages never shift a page; nothing is repeated or lost. Each answer
carries a strong ETag of its body; `If-None-Match` with it gets a 304.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitor import logs
from monitor.export import match_dict
from monitor.report import feed_dict
from monitor.secrets import resolve
from monitor.store.queries import DashboardQueries, Position
from monitor.web import filters
from monitor.web.openapi import description
from monitor.web.ratelimit import RateLimiter
from monitor.web.settings import WebSettings

log = logs.get("web")

PREFIX = "/api/v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_TRUE = ("1", "true", "yes", "on")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.stored_at.isoformat(), position.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stored_at, item_id = json.loads(raw)
        at = datetime.fromisoformat(stored_at)
        if at.tzinfo is None or not isinstance(item_id, int):
            raise ValueError
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ApiError(400, "'cursor' is not one this API handed out; start again without it") from None
    return Position(at, item_id)


def _limit(params: QueryParams) -> int:
    raw = params.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, f"'limit' must be a number from 1 to {MAX_LIMIT}, not {raw!r}")
    return int(raw)


def match_query(params: QueryParams) -> filters.ListQuery:
    """The dashboard's filter parser, under the API's parameter names."""
    values = {k: params[k] for k in ("rule", "source", "since", "until") if k in params}
    if params.get("relevant_only", "").strip().lower() in _TRUE:
        values["hide"] = "1"
    query = filters.parse(QueryParams(values))
    if query.errors:
        raise ApiError(400, "; ".join(query.errors))
    return query


class Api:
    def __init__(self, queries: DashboardQueries, token: str, per_minute: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.queries = queries
        self._digest = hashlib.sha256(token.encode()).digest()
        self.limiter = RateLimiter(per_minute)
        self._clock = clock

    @classmethod
    def from_settings(cls, queries: DashboardQueries, settings: WebSettings) -> Api | None:
        """None when no token is configured (the API is off); SecretError when it cannot be read."""
        if settings.api_token is None:
            return None
        return cls(queries, resolve(settings.api_token), settings.api_rate_per_minute)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{PREFIX}/matches", self._endpoint(self._matches), name="api_matches"),
            Route(f"{PREFIX}/feeds", self._endpoint(self._feeds), name="api_feeds"),
            Route(f"{PREFIX}/openapi.json", self._endpoint(self._openapi, public=True), name="api_openapi"),
        ]

    # the frame every endpoint shares -------------------------------------------

    def _endpoint(self, read: Callable[[Request], dict[str, Any]], *, public: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            client = request.client.host if request.client else "?"
            try:
                wait = self.limiter.take(client, self._clock())
                if wait is not None:
                    raise ApiError(429, f"too many requests: at most {self.limiter.capacity:g} a minute",
                                   {"Retry-After": f"{wait:g}"})
                if not public:
                    self._authorize(request, client)
                data = await run_in_threadpool(read, request)
            except ApiError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status,
                                    headers={"Cache-Control": "no-store", **exc.headers})
            return _answer(request, data)

        return endpoint

    def _authorize(self, request: Request, client: str) -> None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="press-monitor"'}
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "send the API token: Authorization: Bearer <token>", challenge)
        if not hmac.compare_digest(hashlib.sha256(presented.strip().encode()).digest(), self._digest):
            log.warning("api_refused", client=client, path=request.url.path, reason="wrong token")
            raise ApiError(401, "the token is wrong", {**challenge, "WWW-Authenticate":
                                                          'Bearer realm="press-monitor", error="invalid_token"'})

    # the reads (on a worker thread) -----------------------------------------------

    def _matches(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        query, limit = match_query(params), _limit(params)
        after = decode_cursor(params["cursor"]) if params.get("cursor") else None
        found = self.queries.match_slice(query.filter, after=after, limit=limit + 1)
        page, more = found[:limit], len(found) > limit
        return {
            "items": [match_dict(m) for m in page],
            "next_cursor": encode_cursor(Position.of(page[-1])) if more else None,
        }

    def _feeds(self, request: Request) -> dict[str, Any]:
        items = []
        for activity in self.queries.feeds():
            data = feed_dict(activity.state)
            data.pop("lease_owner")  # a host name and process id: nothing for a client
            data["items_per_day"] = round(activity.items_per_day, 2)
            items.append(data)
        return {"items": items}

    def _openapi(self, request: Request) -> dict[str, Any]:
        return description()


def _answer(request: Request, data: dict[str, Any]) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if (nxt := data.get("next_cursor")) is not None:
        headers["Link"] = f'<{request.url.include_query_params(cursor=nxt)}>; rel="next"'
    if _matches_etag(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _matches_etag(header: str | None, etag: str) -> bool:
    """RFC 9110: a weak comparison; `*` matches any."""
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags
