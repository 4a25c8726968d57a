"""One read model of a stored match: the outbox (alerts) and the dashboard
read a story alike, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store.alerts import Outbox
from monitor.store.queries import DashboardQueries
from tests.web.conftest import EVIL_FEED_TITLE, DashboardDb, fill


@pytest.fixture
def db(config_file: Path, db_url: str) -> Iterator[DashboardDb]:
    filled = fill(config_file, db_url)
    yield filled
    filled.engine.dispose()


def test_an_alert_and_the_dashboard_read_the_same_story(db: DashboardDb) -> None:
    shown = DashboardQueries(db.engine).match(db.seed_000).match
    assert Outbox(db.engine).item(db.seed_000) == shown
    assert [s.item_id for s in shown.sources] == [db.seed_000, db.wire_copy]
    assert shown.extra_sources == shown.sources[1:] and shown.ingested_at == shown.source.ingested_at


def test_an_alert_reads_only_the_hits_of_its_rules(db: DashboardDb) -> None:
    shown = DashboardQueries(db.engine).match(db.seed_004).match
    alerted = Outbox(db.engine).item(db.seed_004, ["upr"])
    assert alerted.hits == tuple(h for h in shown.hits if h.rule == "upr") != ()


def test_a_source_is_named_by_the_operators_title_with_the_publishers_own_beside_it(db: DashboardDb) -> None:
    evil = Outbox(db.engine).item(db.evil)
    assert evil.source.name == evil.source.label == EVIL_FEED_TITLE  # no publisher named in the text
    assert evil.source.beside is None
    wire = Outbox(db.engine).item(db.seed_000).extra_sources[0]
    assert (wire.name, wire.label, wire.beside) == ("Wire service", "Wire service", "Wire")
    seed = Outbox(db.engine).item(db.seed_000).source  # a replayed file: no title but the one its text names
    assert (seed.feed_title, seed.name, seed.beside) == (None, seed.origin, None)


def test_reading_an_item_that_is_gone_is_a_lookup_error(db: DashboardDb) -> None:
    with pytest.raises(LookupError):
        Outbox(db.engine).item(10**9)
