"""Two instances against one PostgreSQL database: does a cycle get faster?

The target (from the issue): with a 200 ms per-response delay and 2,000 feeds,
two instances finish a cycle in <= 0.6x the time of one, with the same
per-instance config (`fetch.concurrency` and everything else at its default).

How it is taken:

* Its own feed server (`bench.server`, a process of its own): 2,000 feeds on
  100 hosts (20 per site, as in the other figures), every response delayed
  200 ms, 304s included. The server counts the requests per feed, so every
  cycle is checked to have fetched each feed exactly once, whoever polled it.
* One PostgreSQL database per measurement, created from a template that is
  migrated and has the feed list synced (a driver process's `prepare_database`),
  so each starts "fresh but feeds synced" and nothing has to migrate or insert
  feeds while another instance starts.
* One instance = one `bench.driver` process; two instances = two driver
  processes on the same database, each with its own owner id, fetcher and
  parse-worker pool, both ready before the clock starts; the cycle command goes
  to both at the same moment and the cycle lasts until the last one answers
  (wall time in this process). The drivers never call `make_all_due` in a
  timed cycle: one instance's reset could make feeds the other had already
  polled due again; this process makes every feed due before the warm cycles.
* Cold cycle: every feed new (200 with 20 items each). Warm cycle: every feed
  made due, every answer a 304 after the delay: median of `repeat`.
* The machine's CPU use during each cycle (from /proc/stat) says whether a
  cycle measures the waiting, which two instances can share, or the two
  cores, which they cannot.

Needs a PostgreSQL server where the admin URL (`$BENCH_PG_URL`, default
postgresql://postgres@127.0.0.1:5432/test) may CREATE and DROP DATABASE; the
databases are named bench_instances_<pid>_* and dropped at the end.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.driver import DaemonProcess
from bench.figures import Figure, Target
from bench.server import ServerProcess
from bench.workdir import write_config, write_opml
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore

ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True, slots=True)
class Scale:
    feeds: int = 2_000
    hosts: int = 100
    delay: float = 0.2
    repeat: int = 3  # warm cycles per configuration: median
    target: float = 0.6  # two instances' cycle <= this x one instance's
    concurrency: int = 32  # the default fetch.concurrency, stated here for the waiting bound only


FULL = Scale()
QUICK = Scale(feeds=200, hosts=10)


class Reporting(Protocol):
    figures: list[Figure]

    def note(self, line: str) -> None: ...


# -- PostgreSQL ------------------------------------------------------------------


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(ADMIN_URL, autocommit=True)


def _with_db(database: str) -> str:
    """The admin URL with another database."""
    return make_url(ADMIN_URL).set(database=database).render_as_string(hide_password=False)


def _create(database: str, template: str | None = None) -> None:
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(database),
                                                                         sql.Identifier(template)))


def _drop(database: str) -> None:
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


# -- CPU use of the whole machine --------------------------------------------------


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # without guest time, already counted in user
    return total - idle, total


@contextmanager
def _cpu_use() -> Iterator[dict[str, float]]:
    """Fraction of the machine's CPU time that was busy while the block ran (1.0 = every core)."""
    use: dict[str, float] = {}
    busy0, total0 = _cpu_ticks()
    yield use
    busy1, total1 = _cpu_ticks()
    use["busy"] = (busy1 - busy0) / max(1, total1 - total0)


# -- measurement -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cycle:
    seconds: float  # wall time: commands sent -> last answer
    answers: list[dict[str, Any]]  # one per instance
    fetches: Mapping[str, Any]  # the server's per-feed request counts
    cpu_busy: float

    @property
    def polled(self) -> list[int]:
        return [int(a["feeds"]) for a in self.answers]

    def describe(self) -> str:
        own = "/".join(f"{a['seconds']:.2f}" for a in self.answers)
        results = "; ".join(
            f"instance {n + 1}: {a['feeds']} feeds {a['results']}" for n, a in enumerate(self.answers)
        )
        return (f"{self.seconds:.2f}s (each instance's own run_cycle {own}s), CPU {self.cpu_busy:.0%} busy; "
                f"{results}; server: requests per feed {self.fetches['histogram']}, "
                f"max {self.fetches['max_in_flight_per_host']} in flight on one host")


class Instances:
    def __init__(self, scale: Scale, work: Path, report: Reporting,
                 progress: Callable[[str], None]) -> None:
        self.scale = scale
        self.work = work
        self.report = report
        self.progress = progress
        self.prefix = f"bench_instances_{os.getpid()}"
        self.template = f"{self.prefix}_template"

    def env(self, database: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env["MONITOR_DATABASE_URL"] = _with_db(database)
        return env

    def run(self) -> None:
        scale = self.scale
        self.progress(f"instances: feed server with {scale.feeds} feeds on {scale.hosts} hosts, "
                      f"{scale.delay * 1000:.0f} ms per response")
        with ServerProcess(feeds=scale.feeds, hosts=scale.hosts, delay=scale.delay) as server:
            self.server = server
            opml = write_opml(self.work / "instances.opml", server.urls)
            # The database URL comes from the environment (MONITOR_DATABASE_URL); the file is the same for all.
            self.config = write_config(self.work, name="instances.toml", database=self.work / "unused.db",
                                       opml=opml)
            try:
                self._template()
                results = {n: self._measure(n) for n in (1, 2)}
            finally:
                _drop(self.template)
        self._figures(results)

    def _template(self) -> None:
        with _admin() as conn:  # settings that change what a cycle on PostgreSQL costs
            settings = {name: (conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone() or ["?"])[0]
                        for name in ("server_version", "autovacuum", "plan_cache_mode", "shared_buffers")}
        self.report.note("instances: PostgreSQL " + ", ".join(f"{k} {v}" for k, v in settings.items())
                         + f"; pure waiting for one instance: {self.scale.feeds} x {self.scale.delay:g}s / "
                         f"concurrency {self.scale.concurrency} = "
                         f"{self.scale.feeds * self.scale.delay / self.scale.concurrency:.1f}s")
        _create(self.template)
        with DaemonProcess(self.config, self.work / "instances-template.log", env=self.env(self.template)) as d:
            self.progress(f"instances: template database migrated and synced in {d.ready['prepare_s']:.2f}s")
        engine = make_engine(_with_db(self.template))
        try:
            due = len(FeedStore(engine).due())
        finally:
            engine.dispose()
        if due != self.scale.feeds:
            raise RuntimeError(f"template database has {due} due feeds, expected {self.scale.feeds}")

    def _measure(self, instances: int) -> dict[str, Any]:
        database = f"{self.prefix}_{instances}"
        _create(database, self.template)
        try:
            with ExitStack() as stack:
                drivers = [
                    stack.enter_context(DaemonProcess(
                        self.config, self.work / f"instances-{instances}-{n + 1}.log", env=self.env(database)))
                    for n in range(instances)
                ]
                cold = self._cycle(drivers, database, make_due=False)
                self.report.note(f"{instances} instance(s), cold cycle: {cold.describe()}")
                warm = []
                for _ in range(self.scale.repeat):
                    warm.append(self._cycle(drivers, database, make_due=True))
                    self.report.note(f"{instances} instance(s), warm cycle: {warm[-1].describe()}")
            return {"cold": cold, "warm": warm}
        finally:
            _drop(database)

    def _cycle(self, drivers: Sequence[DaemonProcess], database: str, *, make_due: bool) -> Cycle:
        if make_due:
            engine = make_engine(_with_db(database))
            try:
                FeedStore(engine).make_all_due()
            finally:
                engine.dispose()
        self.server.reset()
        with _cpu_use() as cpu:
            started = time.perf_counter()
            for driver in drivers:
                driver.send(cmd="cycle", fresh_connections=True, make_due=False)
            answers = [driver.receive() for driver in drivers]
            seconds = time.perf_counter() - started
        cycle = Cycle(seconds, answers, self.server.fetches(), cpu["busy"])
        self._check(cycle, warm=make_due)
        return cycle

    def _check(self, cycle: Cycle, *, warm: bool) -> None:
        """Every feed polled once, by exactly one instance, and fetched once: else stop."""
        feeds = self.scale.feeds
        problems = []
        if sum(cycle.polled) != feeds:
            problems.append(f"instances polled {cycle.polled} feeds, {sum(cycle.polled)} in all, not {feeds}")
        if cycle.fetches["histogram"] != {"1": feeds}:
            problems.append(f"requests per feed {cycle.fetches['histogram']}, e.g. {cycle.fetches['not_once']}")
        for answer in cycle.answers:
            results = answer["results"]
            if results.get("error"):
                problems.append(f"errors {answer['errors']}")
            if warm and set(results) - {"not-modified"}:
                problems.append(f"a warm cycle that is not all 304: {results}")
        if problems:
            raise RuntimeError("unexpected cycle: " + "; ".join(problems))

    def _figures(self, results: Mapping[int, Mapping[str, Any]]) -> None:
        scale = self.scale
        one, two = results[1], results[2]
        waiting = scale.feeds * scale.delay / scale.concurrency
        cold_one, cold_two = one["cold"], two["cold"]
        warm_one = statistics.median(c.seconds for c in one["warm"])
        warm_two = statistics.median(c.seconds for c in two["warm"])
        target = Target("<=", scale.target, of_floor=True, text=f"<= {scale.target:g}x one instance")
        cold = Figure(f"two instances, cold cycle, {scale.feeds} feeds, {scale.delay * 1000:.0f} ms delay",
                      cold_two.seconds, "s", target, floor=cold_one.seconds)
        warm = Figure(f"two instances, warm (304) cycle, {scale.feeds} feeds, {scale.delay * 1000:.0f} ms delay",
                      warm_two, "s", target, floor=warm_one)
        # The cold cycle measures the distribution only if one instance spends it waiting:
        # a machine already busy with one instance has no core left for a second one.
        cold_cpu_bound = cold_one.cpu_busy >= 0.85 or cold_one.seconds >= 2 * waiting
        headline, other = (warm, cold) if cold_cpu_bound else (cold, warm)
        self.report.figures += [headline, other]
        why = (f"one instance's cold cycle kept the 2 cores {cold_one.cpu_busy:.0%} busy for {cold_one.seconds:.1f}s "
               f"(pure waiting would be {waiting:.1f}s): it is CPU-bound, a second instance on the same cores "
               "cannot halve it; the warm cycle, where the delay dominates, is the headline"
               if cold_cpu_bound else
               f"one instance's cold cycle was {cold_one.cpu_busy:.0%} CPU-busy, {cold_one.seconds:.1f}s vs "
               f"{waiting:.1f}s of pure waiting: the delay dominates, so the cold cycle is the headline")
        self.report.note(f"instances: headline = {headline.figure}: {why}")
        for label, figure in (("cold", cold), ("warm", warm)):
            ratio = figure.ratio
            self.report.note(
                f"instances {label}: floor (one instance) {figure.floor:.2f}s, two instances {figure.value:.2f}s, "
                f"ratio {ratio:.2f}x, target {scale.target:g}x, met {'yes' if figure.met else 'NO'}")
        self.report.note(
            "instances: feeds polled per instance (two instances): cold "
            + "/".join(map(str, cold_two.polled)) + ", warm "
            + ", ".join("/".join(map(str, c.polled)) for c in two["warm"])
            + f"; every feed fetched exactly once in each of the {2 * (1 + scale.repeat)} cycles (server counts)")


def run(*, quick: bool, work: Path, report: Reporting, progress: Callable[[str], None]) -> None:
    Instances(QUICK if quick else FULL, work, report, progress).run()
