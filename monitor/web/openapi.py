"""The OpenAPI 3.1 description of the read API, served at /api/v1/openapi.json.

Written by hand beside the endpoints (`monitor.web.api`) rather than generated:
the API is two reads, and the schema of a match is the one `monitor.export`
writes; a test checks every field written is described here.
"""

from __future__ import annotations

from typing import Any

import monitor
from monitor.states import FeedHealth

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_INT = {"type": "integer"}

_SOURCE = {"type": "object", "properties": {
    "item_id": _INT, "name": _STR, "feed": _STR, "feed_title": _NSTR, "url": _NSTR, "title": _STR,
    "published_at": _TIME, "stored_at": _TIME,
}}
MATCH = {
    "type": "object",
    "description": "A matching story: its first item, its hits, every source that carried it.",
    "properties": {
        "id": _INT, "headline": _STR, "link": _NSTR, "source": _STR, "feed": _STR, "published_at": _TIME,
        "stored_at": _TIME, "language": _NSTR, "place": _NSTR,
        "rules": {"type": "array", "items": _STR},
        "hits": {"type": "array", "items": {"type": "object", "properties": {
            "rule": _STR, "term": _STR, "field": {"enum": ["title", "text"]}, "start": _INT, "end": _INT,
            "matched": _STR}}},
        "story": {"type": "object", "properties": {"sources": {"type": "array", "items": _SOURCE}}},
        "marks": {"type": "object", "properties": {"not_relevant": {"type": "boolean"}, "labelled_at": _TIME}},
    },
}
FEED = {
    "type": "object",
    "properties": {
        "id": _INT, "url": _STR, "title": _NSTR, "feed_title": _NSTR,
        "health": {"enum": [h.value for h in FeedHealth]},
        "enabled": {"type": "boolean"}, "disabled_reason": _NSTR, "last_success_at": _TIME, "last_error": _NSTR,
        "last_error_at": _TIME, "consecutive_errors": _INT, "next_poll_at": _TIME, "items_seen": _INT,
        "interval_s": {"type": ["integer", "null"]}, "publish_gap_s": {"type": ["number", "null"]},
        "stale": {"type": "boolean"}, "listed_in": _NSTR, "configured_interval_s": {"type": ["integer", "null"]},
        "slower_because": _NSTR, "busiest_hours": {"type": "array", "items": _STR},
        "items_per_day": {"type": "number"},
        "kind": {"enum": ["feed", "page"]}, "links": _NSTR,
        "resolved_as": {"enum": ["feed", "page", None]}, "resolved_url": _NSTR,
        "reads": {"type": "string", "description": "How the source is read: the feed, a declared feed, a listing"},
    },
}


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _errors(*codes: int) -> dict[str, Any]:
    text = {304: "Not modified: the If-None-Match ETag is current", 400: "A bad parameter (the message says which)",
            401: "No token, or a wrong one", 429: "Too many requests; Retry-After says when to try again"}
    return {str(c): {"description": text[c]} for c in codes}


def description() -> dict[str, Any]:
    listing = {
        "200": {"description": "OK", "headers": {"ETag": {"schema": _STR}}},
        **_errors(304, 400, 401, 429),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "press-monitor read API", "version": monitor.__version__,
                 "description": "Stored matches and feed health. Bearer token from `web.api_token`."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Match": MATCH, "Feed": FEED},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/matches": {"get": {
                "summary": "Matching stories, newest first (by when they were stored), a page at a time",
                "parameters": [
                    _param("rule", "only stories with a hit of this rule id", _STR),
                    _param("source", "only stories a feed carried (its id, see /api/v1/feeds)", _INT),
                    _param("since", "stored on or after this UTC day", {"type": "string", "format": "date"}),
                    _param("until", "stored on or before this UTC day", {"type": "string", "format": "date"}),
                    _param("relevant_only", "leave out stories marked not relevant", {"type": "boolean"}),
                    _param("limit", "stories per page", {"type": "integer", "minimum": 1, "maximum": 500,
                                                         "default": 100}),
                    _param("cursor", "next_cursor of the previous page", _STR),
                ],
                "responses": {**listing, "200": {**listing["200"], "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Match"}},
                        "next_cursor": _NSTR}}}}}},
            }},
            "/api/v1/feeds": {"get": {
                "summary": "Every polled feed with its health",
                "responses": {**listing, "200": {**listing["200"], "content": {"application/json": {"schema": {
                    "type": "object", "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Feed"}}}}}}}},
            }},
            "/api/v1/openapi.json": {"get": {"summary": "This description", "security": [],
                                             "responses": {"200": {"description": "OK"}}}},
        },
    }
