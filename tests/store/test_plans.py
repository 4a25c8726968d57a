"""The hot queries of a year of data use their indexes: each is run for real on
a small generated database (`bench.yeardata`), its SQL captured, and its plan
asked for (EXPLAIN QUERY PLAN on SQLite; EXPLAIN with sequential scans
discouraged on PostgreSQL, where a small table would otherwise be scanned
whatever the indexes). Dropping or renaming one of these indexes fails here;
what they are worth at millions of items is measured by `bench.run --only year`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from bench.yeardata import Shape, generate
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore
from monitor.store.queries import DashboardQueries, MatchFilter
from monitor.store.repository import Store
from monitor.store.retention import Retention
from tests.store.test_repository import entry


@pytest.fixture(scope="module")
def year_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('year') / 'year.db'}"
    generate(url, Shape(3_000, feeds=40))
    return url


@pytest.fixture
def year_db(request: pytest.FixtureRequest, db_url: str, year_sqlite: str) -> Iterator[Engine]:
    url = year_sqlite
    if db_url.startswith("postgresql"):
        generate(db_url, Shape(3_000, feeds=40))
        url = db_url
    engine = make_engine(url)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


def plans(engine: Engine, call: Callable[[], Any]) -> str:
    """The plans of every statement `call` runs, as one text."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE", "DELETE")):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    found = []
    with engine.connect() as conn:
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("SET enable_seqscan = off"))
        for statement, parameters in statements:
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            found += [" ".join(map(str, row)) for row in conn.exec_driver_sql(explain + statement, parameters)]
        conn.rollback()
    return "\n".join(found)


HOT: dict[str, tuple[Callable[[DashboardQueries], Any], tuple[str, ...]]] = {
    "matches list and its count": (lambda q: q.matches(), ("ix_items_matches",)),
    "matches of one source": (lambda q: q.matches(MatchFilter(feed_id=1)), ("ix_items_matched_feed",)),
    "Atom feed": (lambda q: q.newest(), ("ix_items_matches",)),
    "matches of one rule, 30 days, relevant only": (
        lambda q: q.matches(MatchFilter(rule="ohchr", since=date.today() - timedelta(days=30), hide_not_relevant=True)),
        ("ix_items_matches", "ix_hits_item_rule")),
    "rules in the filter": (lambda q: q.rules_seen(), ("ix_hits_rule",)),
    "sources in the filter": (lambda q: q.sources_with_matches(), ("ix_items_matched_feed",)),
    "chart": (lambda q: q.per_rule_per_day(days=30), ("ix_items_matches", "ix_hits_item_rule")),
    "feeds page window": (lambda q: q.feeds(), ("ix_items_ingested_at_feed_id",)),
    "feeds page window, one page of feeds": (lambda q: q.feeds(states=FeedStore(q.engine).all()[:10]),
                                             ("ix_items_ingested_at_feed_id",)),
    "delays (feeds page, /metrics)": (lambda q: q.delays(), ("ix_items_ingested_at_feed_id",)),
    "alerts by state (/metrics)": (lambda q: q.alerts_by_state(), ("ix_alerts_state_next_attempt_at",)),
}


@pytest.mark.parametrize("name", sorted(HOT))
def test_a_dashboard_query_uses_its_index(year_db: Engine, name: str) -> None:
    call, indexes = HOT[name]
    plan = plans(year_db, lambda: call(DashboardQueries(year_db)))
    for index in indexes:
        assert index in plan, f"{name}: {index} not in the plan:\n{plan}"


@pytest.mark.parametrize("name", ["chart", "matches of one rule, 30 days, relevant only"])
def test_the_chart_and_filtered_counts_read_no_table_row(year_sqlite: str, name: str) -> None:
    """A month of stories at 5 M items a year is 41,000 of them: the chart and the
    count of a filtered list read each one's relevance and rules from the indexes."""
    engine = make_engine(year_sqlite)
    try:
        plan = plans(engine, lambda: HOT[name][0](DashboardQueries(engine)))
    finally:
        engine.dispose()
    assert "COVERING INDEX ix_items_matches" in plan, plan
    if name == "chart":
        assert "COVERING INDEX ix_hits_item_rule" in plan, plan


def test_the_dedupe_lookups_of_a_commit_use_their_indexes(year_db: Engine) -> None:
    store = Store(year_db)
    plan = plans(year_db, lambda: store.ingest("https://source-1.example/feed.xml",
                                               [entry("new-1", url="https://source-1.example/news/new-1")]))
    guid_index = "uq_items_feed_id_guid" if year_db.dialect.name == "postgresql" else "sqlite_autoindex_items_1"
    for index in (guid_index, "ix_items_canonical_url", "ix_items_content_hash", "ix_story_prints_band0",
                  "ix_items_headline"):
        assert index in plan, f"{index} not in the plan:\n{plan}"


def test_retention_reads_only_what_it_changes(year_db: Engine) -> None:
    cutoff = datetime.now(UTC) - timedelta(days=30)
    retention = Retention(year_db, batch=10)
    plan = plans(year_db, lambda: [retention.step(task, cutoff) for task in ("prints", "texts", "hits", "attempts")])
    assert "ix_items_unmatched" in plan, plan
    assert "ix_hits_item_rule" in plan, plan
