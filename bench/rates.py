"""Latency by publishing rate, with the shipped schedule scaled down in time.

    python -m bench.rates            # about 6 minutes: economy off, then on
    python -m bench.run --only rates # the same inside the full report

200 sources in five rate classes (one release an hour, 8 a day, 3 a day, one a
day, one a week; 40 each) on local feed servers. Every setting keeps its
shipped default divided by SCALE (300 s latency target -> 20 s, 3600 s economy
ceiling -> 240 s, 15 s tick -> 1 s, …), and the real daemon (`monitor run`)
routes every rule to a webhook here.

Each source's backlog holds 24 releases dated at one hour of the week in past
weeks: the current hour for half the sources of each class ("open now"), twelve
hours away for the other half ("closed now"). While the daemon runs, releases
are published at random moments by open sources only, as their history says
they would (the latency target does not depend on the rate, so each class gets
the same number of samples); a release names the ILO so it alerts. Latency =
webhook receipt - the moment the server started serving the release.
Requests per source per hour are counted by the servers and given at full
scale (measured rate / SCALE).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.figures import Figure, Target, table
from bench.latency import percentile, webhook_receiver
from bench.workdir import write_config, write_opml
from tests.feedserver import FeedServer, feed_xml

SCALE = 15
CLASSES = (("1/hour", 24.0), ("8/day", 8.0), ("3/day", 3.0), ("1/day", 1.0), ("1/week", 1 / 7))
PER_CLASS = 40
SAMPLES = 16  # releases published per class and run
HOSTS = 10
RUN_S = 150  # publishing window; then the daemon gets two targets to catch up
COUNT_S = 1.25 * 3600 / SCALE  # requests are counted over this long at least


@dataclass
class Source:
    number: int
    rate: str
    open_now: bool
    server: FeedServer
    path: str
    entries: list[dict]

    @property
    def url(self) -> str:
        return self.server.url(self.path)


def backlog(number: int, at: datetime) -> list[dict]:
    """24 releases at `at`'s hour of the week, one to eight weeks back."""
    return [{"title": f"Statement {number}-{i}", "guid": f"s{number}-{i}",
             "link": f"https://ministry{number}.example/{i}", "description": "The ministry issued a statement.",
             "pubDate": at - timedelta(weeks=1 + i // 3, minutes=7 * (i % 3))} for i in range(24)]


def scaled_config(directory: Path, opml: Path, hook: str, *, economy: bool) -> Path:
    return write_config(
        directory, name=f"rates-{economy}.toml", database=directory / f"rates-{economy}.db", opml=opml,
        log_level="INFO",
        fetch={"concurrency": 32},
        schedule={"latency_target_s": 300 // SCALE, "min_interval_s": 60 // SCALE,
                  "max_interval_s": 6 * 3600 // SCALE, "economy": economy, "economy_ceiling_s": 3600 // SCALE,
                  "websub_fallback_s": 3600 // SCALE, "max_backoff_s": 86_400 // SCALE, "tick_s": 15 / SCALE,
                  "lease_s": 20, "parse_workers": 1},
        tables={"channels.bench": {"type": "webhook", "url": hook}, "alerts": {"dispatch_tick_s": 5 / SCALE}},
        routes=[{"rules": ["*"], "channel": "bench"}],
    )


def run(economy: bool, work: Path) -> dict[str, dict[str, float]]:
    """One daemon over fresh sources; per class: p50/p95 latency and requests per source per hour."""
    now = datetime.now(UTC)
    servers = [FeedServer("127.0.0.1").start() for _ in range(HOSTS)]
    sources = []
    for n in range(len(CLASSES) * PER_CLASS):
        rate = CLASSES[n // PER_CLASS][0]
        open_now = n % 2 == 0
        entries = backlog(n, now if open_now else now + timedelta(hours=12))
        server = servers[n % HOSTS]
        path = f"/rates/{n}.xml"
        server.add_feed(path, feed_xml(entries))
        sources.append(Source(n, rate, open_now, server, path, entries))
    opml = write_opml(work / f"rates-{economy}.opml", [s.url for s in sources])
    published: dict[str, tuple[str, float]] = {}
    try:
        with webhook_receiver() as (hook, receiver):
            config = scaled_config(work, opml, hook, economy=economy)
            log = work / f"rates-{economy}.log"
            with log.open("ab") as stderr:
                daemon = subprocess.Popen(
                    [str(Path(sys.executable).with_name("monitor")), "--config", str(config), "run"],
                    stdout=subprocess.DEVNULL, stderr=stderr,
                    env={k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")})
            try:
                wait_for_first_cycle(log, daemon)
                counted_from = time.monotonic()
                before = {s.number: s.server.requests(s.path) for s in sources}
                publish_all(sources, published)
                deadline = time.monotonic() + 2 * 300 / SCALE + 15
                while time.monotonic() < deadline and not published.keys() <= receiver.arrivals.keys():
                    time.sleep(0.2)
                # count requests over at least one economy ceiling, so a closed source's poll shows
                time.sleep(max(0.0, counted_from + COUNT_S - time.monotonic()))
                hours = (time.monotonic() - counted_from) / 3600
                after = {s.number: s.server.requests(s.path) for s in sources}
            finally:
                daemon.terminate()
                daemon.wait(timeout=60)
            arrivals = dict(receiver.arrivals)
    finally:
        for server in servers:
            server.stop()
    result: dict[str, dict[str, float]] = {}
    for rate, _ in CLASSES:
        mine = [g for g, (r, _) in published.items() if r == rate]
        latencies = sorted(arrivals[g] - published[g][1] for g in mine if g in arrivals)
        for state in (True, False):
            group = [s for s in sources if s.rate == rate and s.open_now == state]
            result.setdefault(rate, {})[f"requests_{'open' if state else 'closed'}"] = statistics.mean(
                (after[s.number] - before[s.number]) / hours for s in group) / SCALE
        result[rate].update(samples=len(mine), arrived=len(latencies),
                            p50=percentile(latencies, 0.5) if latencies else float("nan"),
                            p95=percentile(latencies, 0.95) if latencies else float("nan"))
    return result


def wait_for_first_cycle(log: Path, daemon: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited; see {log}")
        if "event=cycle" in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError(f"no first cycle within {timeout:.0f} s; see {log}")


def publish_all(sources: Sequence[Source], published: dict[str, tuple[str, float]], seed: int = 5) -> None:
    """SAMPLES releases per class at random moments within RUN_S, by open sources."""
    rng = random.Random(seed)
    plan = sorted((rng.uniform(0, RUN_S), rate) for rate, _ in CLASSES for _ in range(SAMPLES))
    started = time.monotonic()
    serial = 0
    for at, rate in plan:
        time.sleep(max(0.0, started + at - time.monotonic()))
        source = rng.choice([s for s in sources if s.rate == rate and s.open_now])
        serial += 1
        guid = f"press-{serial}"
        source.entries.insert(0, {"title": f"Statement {guid}", "guid": guid, "link": f"https://x.example/{guid}",
                                  "description": "The International Labour Organization said today.",
                                  "pubDate": datetime.now(UTC)})
        source.server.publish(source.path, feed_xml(source.entries))
        published[guid] = (rate, time.time())


def figures(results: dict[bool, dict[str, dict[str, float]]]) -> tuple[list[Figure], list[str]]:
    target = 300 / SCALE
    found, notes = [], []
    for economy, by_rate in results.items():
        mode = "economy on" if economy else "economy off"
        for rate, r in by_rate.items():
            found.append(Figure(f"publication -> webhook p95, {rate} sources, {mode}", r["p95"], "s",
                                Target("<=", target + 2, text=f"<= target + 2 s ({target + 2:g} s)"), floor=target))
            notes.append(f"rates ({mode}) {rate}: {r['arrived']:.0f}/{r['samples']:.0f} alerts, p50 {r['p50']:.1f} s, "
                         f"p95 {r['p95']:.1f} s; requests per source per hour at full scale: "
                         f"open now {r['requests_open']:.1f}, closed now {r['requests_closed']:.1f}")
    return found, notes


def measure(work: Path) -> tuple[list[Figure], list[str]]:
    return figures({economy: run(economy, work) for economy in (False, True)})


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-rates-") as tmp:
        found, notes = measure(Path(tmp))
    print(f"load average {os.getloadavg()[0]:.2f}; scale 1/{SCALE}: latency target {300 / SCALE:g} s\n")
    print(table(found))
    print()
    for figure in found:
        print(figure.as_json())
    print("\ndetails:")
    for line in notes:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
