"""The dashboard over a generated year (`bench.yeardata`): the generator writes
rows as the daemon's schema expects them (every page reads them), and a list
longer than the count's cap says so and still pages on."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from bench.yeardata import Shape, generate
from monitor.store import queries
from monitor.store.engine import make_engine
from monitor.web.dashboard import create_app
from monitor.web.settings import WebSettings
from tests.web.conftest import FakeProbe, LiveServer


@pytest.fixture
def year(db_url: str) -> Iterator[Engine]:
    generate(db_url, Shape(2_000, feeds=20))
    engine = make_engine(db_url, read_mostly=True)
    yield engine
    engine.dispose()


def test_every_page_reads_a_generated_year(year: Engine) -> None:
    with year.connect() as conn:
        story, title = conn.execute(text(
            "SELECT id, title FROM items WHERE matched AND duplicate_of IS NULL ORDER BY id DESC LIMIT 1")).one()
        copied = conn.execute(text("SELECT duplicate_of FROM items WHERE matched AND duplicate_of IS NOT NULL "
                                   "ORDER BY id DESC LIMIT 1")).scalar_one()
    app = create_app(year, WebSettings(port=0), health=FakeProbe())
    with LiveServer(app) as server, server.client() as client:
        pages = {path: client.get(path) for path in (
            "/", "/?rule=ohchr", "/?source=1", "/?hide=1", "/feeds", f"/matches/{story}", f"/matches/{copied}",
            "/matches.atom", "/metrics")}
    for path, response in pages.items():
        assert response.status_code == 200, (path, response.text[:500])
    assert title.split()[0] in pages[f"/matches/{story}"].text
    assert "Source 1" in pages["/feeds"].text
    assert 'monitor_alerts{state="sent"}' in pages["/metrics"].text


def test_a_list_longer_than_the_count_cap_says_so_and_pages_on(year: Engine,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "COUNT_CAP", 60)
    app = create_app(year, WebSettings(port=0), health=FakeProbe())
    with LiveServer(app) as server, server.client() as client:
        first = client.get("/").text
        second = client.get("/?page=2").text
    assert re.search(r'<span class="count">60\+</span>', first)
    assert 'rel="next"' in first and "page 1 of 2+" in first
    assert 'rel="next"' in second  # past the cap: there are more than 100 stories
