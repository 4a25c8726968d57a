"""The read API and the matches page's downloads, over HTTP (uvicorn on
127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import update

from monitor.dedupe import fingerprint
from monitor.export import CSV_COLUMNS, match_dict
from monitor.items import Item, Prepared
from monitor.rules import compile_rules, load_rules
from monitor.store.models import StoredItem
from monitor.store.queries import DashboardQueries
from monitor.store.repository import Store
from monitor.web.dashboard import create_app
from monitor.web.openapi import MATCH
from monitor.web.settings import WebSettings
from tests.conftest import RULES
from tests.web.conftest import WIRE_FEED, DashboardDb, FakeProbe, LiveServer

API_TOKEN = "api-token-for-tests-0123456789"
API_ENV = "MONITOR_TEST_API_TOKEN"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def api_settings(monkeypatch: pytest.MonkeyPatch, **extra: object) -> WebSettings:
    monkeypatch.setenv(API_ENV, API_TOKEN)
    return WebSettings.model_validate({"port": 0, "api_token": {"env": API_ENV}, **extra})


@pytest.fixture
def api(dashboard_db: DashboardDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[httpx.Client, DashboardDb]]:
    settings = api_settings(monkeypatch)
    with LiveServer(create_app(dashboard_db.engine, settings, health=FakeProbe()), settings) as server, \
            server.client() as client:
        yield client, dashboard_db


def add_stories(db: DashboardDb, *guids: str) -> None:
    matcher = compile_rules(load_rules([RULES]))
    items = [Item(source=WIRE_FEED, guid=g, title=f"Story {g} on the OHCHR", url=f"https://wire.example/{g}",
                  text="The OHCHR said so.") for g in guids]
    Store(db.engine).ingest(WIRE_FEED, [Prepared(i, matcher.scan(i), fingerprint(i), None, ()) for i in items])


def test_without_an_api_token_there_is_no_api(dashboard_db: DashboardDb) -> None:
    settings = WebSettings(port=0)
    with LiveServer(create_app(dashboard_db.engine, settings, health=FakeProbe()), settings) as server, \
            server.client() as client:
        for path in ("/api/v1/matches", "/api/v1/feeds", "/api/v1/openapi.json"):
            assert client.get(path, headers=AUTH).status_code == 404


def test_the_token_is_required_and_checked(api: tuple[httpx.Client, DashboardDb]) -> None:
    client, _ = api
    missing = client.get("/api/v1/matches")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in missing.json()["error"]
    wrong = client.get("/api/v1/matches", headers={"Authorization": f"Bearer {API_TOKEN}x"})
    assert wrong.status_code == 401 and "invalid_token" in wrong.headers["WWW-Authenticate"]
    assert client.get("/api/v1/matches", headers={"Authorization": f"Basic {API_TOKEN}"}).status_code == 401
    ok = client.get("/api/v1/matches", headers=AUTH)
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"
    assert ok.json()["items"]


def test_matches_are_the_exports_dicts_with_the_dashboards_filters(api: tuple[httpx.Client, DashboardDb]) -> None:
    client, db = api
    queries = DashboardQueries(db.engine)
    body = client.get("/api/v1/matches", headers=AUTH, params={"rule": "upr"}).json()
    assert body["next_cursor"] is None
    assert body["items"] == [match_dict(m) for m in queries.all_matches() if "upr" in m.rules]
    queries.mark_not_relevant(db.evil)
    relevant = client.get("/api/v1/matches", headers=AUTH, params={"relevant_only": "true"}).json()["items"]
    assert db.evil not in {m["id"] for m in relevant}
    assert db.evil in {m["id"] for m in client.get("/api/v1/matches", headers=AUTH).json()["items"]}
    by_feed = client.get("/api/v1/matches", headers=AUTH, params={"source": str(db.evil_feed)}).json()["items"]
    assert [m["id"] for m in by_feed] == [db.evil]
    for bad in ({"since": "yesterday"}, {"limit": "0"}, {"limit": "501"}, {"cursor": "bm9wZQ"}):
        answer = client.get("/api/v1/matches", headers=AUTH, params=bad)
        assert answer.status_code == 400 and answer.json()["error"], bad


def test_pages_lose_and_repeat_nothing_while_stories_arrive(api: tuple[httpx.Client, DashboardDb]) -> None:
    client, db = api
    add_stories(db, *(f"old-{i}" for i in range(5)))
    with db.engine.begin() as conn:  # five stored at the same instant: the id breaks the tie
        conn.execute(update(StoredItem).where(StoredItem.guid.like("old-%"))
                     .values(ingested_at=datetime(2024, 11, 4, 9, 0, 0, 123456, tzinfo=UTC)))
    before = [m.id for m in DashboardQueries(db.engine).all_matches()]
    assert len(before) == 8
    seen: list[int] = []
    cursor = None
    for page in range(100):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        answer = client.get("/api/v1/matches", headers=AUTH, params=params)
        assert answer.status_code == 200
        body = answer.json()
        seen += [m["id"] for m in body["items"]]
        add_stories(db, f"new-{page}-a", f"new-{page}-b")  # newer than everything handed out
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert answer.headers["Link"].endswith('rel="next"') and f"cursor={cursor}" in answer.headers["Link"]
    assert seen == before, "a page repeated or skipped a story"
    first = client.get("/api/v1/matches", headers=AUTH, params={"limit": "2"}).json()["items"]
    assert first[0]["headline"].startswith("Story new-")  # the new ones come first in a fresh reading


def test_etag_and_if_none_match(api: tuple[httpx.Client, DashboardDb]) -> None:
    client, db = api
    first = client.get("/api/v1/matches", headers=AUTH)
    etag = first.headers["ETag"]
    again = client.get("/api/v1/matches", headers={**AUTH, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert client.get("/api/v1/matches", headers={**AUTH, "If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    add_stories(db, "etag-1")
    changed = client.get("/api/v1/matches", headers={**AUTH, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    feeds = client.get("/api/v1/feeds", headers=AUTH)
    assert client.get("/api/v1/feeds", headers={**AUTH, "If-None-Match": feeds.headers["ETag"]}).status_code == 304


def test_feeds_show_health(api: tuple[httpx.Client, DashboardDb]) -> None:
    client, db = api
    feeds = {f["id"]: f for f in client.get("/api/v1/feeds", headers=AUTH).json()["items"]}
    assert feeds[db.broken_feed]["health"] == "backing-off"
    assert feeds[db.broken_feed]["consecutive_errors"] == 3 and "503" in feeds[db.broken_feed]["last_error"]
    assert all("lease_owner" not in f for f in feeds.values())


def test_openapi_describes_what_is_served(api: tuple[httpx.Client, DashboardDb]) -> None:
    client, _ = api
    spec = client.get("/api/v1/openapi.json").json()  # no token needed to read the description
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/matches", "/api/v1/feeds"} <= spec["paths"].keys()
    item = client.get("/api/v1/matches", headers=AUTH).json()["items"][0]
    assert set(item) == set(MATCH["properties"])  # type: ignore[arg-type]
    feed = client.get("/api/v1/feeds", headers=AUTH).json()["items"][0]
    assert set(feed) == set(spec["components"]["schemas"]["Feed"]["properties"])


def test_a_client_over_its_rate_gets_429_with_retry_after(dashboard_db: DashboardDb,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    settings = api_settings(monkeypatch, api_rate_per_minute=3)
    with LiveServer(create_app(dashboard_db.engine, settings, health=FakeProbe()), settings) as server, \
            server.client() as client:
        statuses = [client.get("/api/v1/matches", headers={"Authorization": "Bearer guess"}).status_code
                    for _ in range(2)]
        statuses.append(client.get("/api/v1/feeds", headers=AUTH).status_code)
        refused = client.get("/api/v1/matches", headers=AUTH)
    assert statuses == [401, 401, 200]  # guesses count against the same budget
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 20


# -- dashboard downloads ------------------------------------------------------------


def test_the_matches_page_downloads_its_filter_as_csv_and_json(served: tuple[LiveServer, DashboardDb]) -> None:
    server, db = served
    with server.client() as client:
        page = client.get("/", params={"rule": "ohchr", "hide": "1"}).text
        assert 'href="/matches.csv?rule=ohchr&amp;hide=1"' in page
        assert 'href="/matches.json?rule=ohchr&amp;hide=1"' in page
        wanted = [m for m in DashboardQueries(db.engine).all_matches() if "ohchr" in m.rules and not m.not_relevant]

        csv_answer = client.get("/matches.csv", params={"rule": "ohchr", "hide": "1"})
        assert csv_answer.status_code == 200 and csv_answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv_answer.headers["content-disposition"]
        assert csv_answer.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(csv_answer.content.decode("utf-8-sig"), newline="")))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert [int(r["id"]) for r in rows] == [m.id for m in wanted]

        json_answer = client.get("/matches.json", params={"rule": "ohchr", "hide": "1"})
        assert json_answer.status_code == 200
        assert json_answer.json() == [match_dict(m) for m in wanted]

        assert client.get("/matches.json", params={"since": "nope"}).status_code == 400
        assert client.get("/matches.json", params={"rule": "nosuchrule"}).json() == []
