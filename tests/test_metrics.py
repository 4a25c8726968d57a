"""Prometheus metrics: poll events counted where they happen, state read from
the database at scrape time (so every instance reports the same truth)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from monitor import metrics
from monitor.store.engine import make_engine
from monitor.store.models import Alert
from monitor.web.dashboard import create_app
from monitor.web.health import TickProbe
from monitor.web.settings import WebSettings
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import cycle, seed_entries, write_config
from tests.web.conftest import DashboardDb, FakeProbe, LiveServer, fill


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_polls_count_results_durations_items_and_matches_by_rule(tmp_path: Path, db_url: str) -> None:
    names = ("monitor_fetches_total", "monitor_items_ingested_total", "monitor_fetch_duration_seconds_count")
    before = {
        "new": sample(names[0], result="new"), "error": sample(names[0], result="error"),
        "not-modified": sample(names[0], result="not-modified"),
        "items": sample(names[1]), "fetches": sample(names[2]),
        **{rule: sample("monitor_matches_total", rule=rule) for rule in ("ohchr", "upr", "ilo")},
    }
    with FeedServer() as server:
        good = server.add_feed("/press.xml", feed_xml(seed_entries()))
        config = write_config(tmp_path, db_url, [good, server.hostile_url("500")])
        cycle(config)
        cycle(config, all_feeds=True)

    assert sample(names[0], result="new") - before["new"] == 1
    assert sample(names[0], result="not-modified") - before["not-modified"] == 1
    assert sample(names[0], result="error") - before["error"] == 2
    assert sample(names[1]) - before["items"] == 2
    assert sample(names[2]) - before["fetches"] == 4  # failures are timed too
    assert sample("monitor_matches_total", rule="ohchr") - before["ohchr"] == 2
    assert sample("monitor_matches_total", rule="upr") - before["upr"] == 1
    assert sample("monitor_matches_total", rule="ilo") - before["ilo"] == 1


@pytest.fixture
def dashboard(config_file: Path, db_url: str) -> Iterator[DashboardDb]:
    db = fill(config_file, db_url)
    yield db
    db.engine.dispose()


class Monotonic:
    """The daemon's monotonic clock, moved by the test instead of by waiting."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_metrics_endpoint_reports_state_from_the_database(dashboard: DashboardDb, db_url: str) -> None:
    clock = Monotonic(1000.0)
    last_tick = [995.5]  # the daemon's `last_tick`, 4.5 s before "now"
    probe = TickProbe(lambda: last_tick[0], max_tick_age_s=60.0, clock=clock)
    app = create_app(dashboard.engine, WebSettings(port=0), health=probe)
    other_instance = make_engine(db_url)
    with LiveServer(app) as server, server.client() as client:
        response = client.get("/metrics")
        first = scrape(response.text)
        with other_instance.begin() as conn:  # another daemon dead-letters the pending alert
            conn.execute(update(Alert).where(Alert.state == "pending").values(state="dead", next_attempt_at=None))
        clock.now += 70.0  # the scheduler has not ticked for 74.5 s: past the health limit
        second = scrape(client.get("/metrics").text)
        stuck = client.get("/healthz")
        last_tick[0] = clock.now  # it ticks again
        third = scrape(client.get("/metrics").text)
        healthy = client.get("/healthz")
    other_instance.dispose()

    assert response.headers["content-type"].startswith("text/plain")
    assert first[("monitor_database_up", ())] == 1
    assert first[("monitor_feeds", (("health", "backing-off"),))] == 1
    assert first[("monitor_feeds", (("health", "ok"),))] == 2
    assert first[("monitor_feeds", (("health", "stale"),))] == 0
    assert first[("monitor_alerts", (("state", "pending"),))] == 1
    assert first[("monitor_alerts", (("state", "sent"),))] == 1
    assert first[("monitor_outbox_backlog", ())] == 1
    assert first[("monitor_outbox_oldest_due_seconds", ())] >= 0
    assert ("monitor_fetches_total", (("result", "error"),)) in first
    assert any(name == "process_cpu_seconds_total" for name, _ in first)

    assert second[("monitor_alerts", (("state", "dead"),))] == 1
    assert second[("monitor_alerts", (("state", "pending"),))] == 0
    assert second[("monitor_outbox_backlog", ())] == 0

    # The tick age is measured from the daemon's last tick, and /metrics agrees
    # with /healthz about it: an alert on the metric fires when health fails.
    assert first[("monitor_scheduler_tick_age_seconds", ())] == 4.5
    assert second[("monitor_scheduler_tick_age_seconds", ())] == 74.5
    assert stuck.status_code == 503 and stuck.json()["failed"] == ["scheduler"]
    assert stuck.json()["checks"]["scheduler"]["last_tick_age_s"] == 74.5
    assert third[("monitor_scheduler_tick_age_seconds", ())] == 0
    assert healthy.status_code == 200


def test_a_database_that_does_not_answer_is_a_gauge_not_a_failed_scrape() -> None:
    down = make_engine("postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    app = create_app(down, WebSettings(port=0), health=FakeProbe())
    with LiveServer(app) as server, server.client() as client:
        response = client.get("/metrics")
    down.dispose()
    assert response.status_code == 200
    values = scrape(response.text)
    assert values[("monitor_database_up", ())] == 0
    assert not any(name == "monitor_feeds" for name, _ in values)


def test_exposition_is_plain_prometheus_text() -> None:
    text = metrics.exposition().decode()
    assert "# TYPE monitor_fetch_duration_seconds histogram" in text
    assert "# TYPE monitor_fetches_total counter" in text
    assert 'monitor_fetches_total{result="unchanged"}' in text  # every result exists from the start
