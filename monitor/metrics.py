"""Prometheus metrics: what this process did, and what the shared database holds.

Two kinds, kept apart on purpose:

* **Events of this process** (fetches by result, fetch durations, items
  ingested, new matches by rule, WebSub deliveries by result) are counters and a histogram in `REGISTRY`,
  incremented where they happen (`monitor.pipeline.polling`). Each instance counts its
  own; Prometheus sums across instances.
* **State** (alerts by state, the outbox backlog, feeds by health) is not
  counted in memory but read from the database at scrape time by
  `DatabaseCollector`: with several daemons on one PostgreSQL, every instance
  reports the same true numbers, and a restart loses nothing.

`/metrics` (monitor.web) exposes both; `exposition()` builds the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from monitor import logs
from monitor.store.queries import DashboardQueries

log = logs.get("metrics")

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

FETCHES = Counter(
    "monitor_fetches", "Feed polls by result (new, unchanged, not-modified, error).",
    ["result"], registry=REGISTRY,
)
FETCH_SECONDS = Histogram(
    "monitor_fetch_duration_seconds", "Time to fetch one feed over HTTP, failures included.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120), registry=REGISTRY,
)
ITEMS_INGESTED = Counter(
    "monitor_items_ingested", "New items stored from polled feeds.", registry=REGISTRY,
)
PUBLISH_TO_SEEN = Histogram(
    "monitor_publish_to_seen_seconds", "Delay from an item's publication date to its first sight by a poll.",
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600), registry=REGISTRY,
)
MATCHES = Counter(
    "monitor_matches", "New matching stories stored from polled feeds, by rule.",
    ["rule"], registry=REGISTRY,
)
WEBSUB_PUSHES = Counter(
    "monitor_websub_pushes", "Deliveries at the WebSub callback by result (accepted, unsigned, bad-signature, "
    "unknown: no such subscription).", ["result"], registry=REGISTRY,
)
ARTICLE_FETCHES = Counter(
    "monitor_article_fetches", "Linked articles fetched for summary-only entries, by result (extracted, "
    "unreadable: no main text, disallowed: robots.txt, failed: to be tried again, gave-up).",
    ["result"], registry=REGISTRY,
)
ARTICLE_RESULTS = ("extracted", "unreadable", "disallowed", "failed", "gave-up")
FETCH_RESULTS = ("new", "unchanged", "not-modified", "error")
PUSH_RESULTS = ("accepted", "unsigned", "bad-signature", "unknown")
for _result in FETCH_RESULTS:  # every series exists from the start, at zero
    FETCHES.labels(result=_result)
for _result in PUSH_RESULTS:
    WEBSUB_PUSHES.labels(result=_result)
for _result in ARTICLE_RESULTS:
    ARTICLE_FETCHES.labels(result=_result)


def record_poll(result: str) -> None:
    """Count one finished poll by its result."""
    FETCHES.labels(result=result).inc()


def record_article(result: str) -> None:
    """Count one article fetch by its result (ARTICLE_RESULTS)."""
    ARTICLE_FETCHES.labels(result=result).inc()


def record_push(result: str) -> None:
    """Count one delivery at the WebSub callback by its result (PUSH_RESULTS)."""
    WEBSUB_PUSHES.labels(result=result).inc()


def record_ingested(
    new_items: int, matched_rules: Iterable[Iterable[str]] = (), delays_s: Iterable[float] = ()
) -> None:
    """Count the items a poll stored, for each new matching story (not an extra
    source of a known one) the rules it matched, and each item's delay from
    publication to first sight (`monitor.publishing.seen_delay`)."""
    if new_items:
        ITEMS_INGESTED.inc(new_items)
    for delay in delays_s:
        PUBLISH_TO_SEEN.observe(delay)
    for rules in matched_rules:
        for rule in rules:
            MATCHES.labels(rule=rule).inc()


class DatabaseCollector(Collector):
    """State gauges read from the database on every scrape.

    A failing database must not break the scrape: the gauges are left out and
    `monitor_database_up` says 0, which is itself what to alert on."""

    def __init__(self, queries: DashboardQueries, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.queries = queries
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("monitor_database_up", "1 when the database answered this scrape.")
        try:
            alerts = self.queries.alerts_by_state()
            backlog = self.queries.outbox_backlog(self.clock())
            feeds = self.queries.feeds_by_health()
            delays = self.queries.delays(now=self.clock())
        except Exception as exc:  # reported as a gauge, and logged for the operator
            log.warning("metrics_database_failed", error=f"{type(exc).__name__}: {exc}")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        by_state = GaugeMetricFamily("monitor_alerts", "Alerts (outbox rows) by state.", labels=["state"])
        for state, n in sorted(alerts.items()):
            by_state.add_metric([state], n)
        yield by_state

        yield GaugeMetricFamily(
            "monitor_outbox_backlog", "Pending alerts due for delivery now.", value=backlog.due
        )
        yield GaugeMetricFamily(
            "monitor_outbox_oldest_due_seconds",
            "How long the oldest pending alert has been due (0 when none is).",
            value=backlog.oldest_due_s or 0.0,
        )

        by_health = GaugeMetricFamily("monitor_feeds", "Polled feeds by health state.", labels=["health"])
        for health, n in sorted(feeds.items()):
            by_health.add_metric([health], n)
        yield by_health

        delay = GaugeMetricFamily(
            "monitor_feed_publish_to_seen_seconds",
            "Per feed, the delay from publication to first sight over the last 30 days (median, p95).",
            labels=["feed_id", "quantile"],
        )
        for feed_id, d in sorted(delays.items()):
            delay.add_metric([str(feed_id), "0.5"], d.median_s)
            delay.add_metric([str(feed_id), "0.95"], d.p95_s)
        yield delay


class TickAgeCollector(Collector):
    """The scheduler's last tick age, so an alert can fire before /healthz does."""

    def __init__(self, tick_age_s: Callable[[], float | None]) -> None:
        self.tick_age_s = tick_age_s

    def collect(self) -> Iterator[Metric]:
        age = self.tick_age_s()
        if age is not None:
            yield GaugeMetricFamily(
                "monitor_scheduler_tick_age_seconds", "Seconds since the scheduler last ticked.", value=age
            )


class _Combined:
    """Several collectors seen as one registry, for `generate_latest`, without
    registering per-app collectors in the process-wide `REGISTRY`."""

    def __init__(self, collectors: Iterable[Collector | CollectorRegistry]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(*extra: Collector) -> bytes:
    """The Prometheus text exposition of this process's metrics plus `extra`."""
    return generate_latest(_Combined([REGISTRY, *extra]))


CONTENT_TYPE = CONTENT_TYPE_LATEST
