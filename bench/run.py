"""`make bench` / `make bench-quick`: every figure beside its floor, in one run.

    python -m bench.run            # 1,000 feeds (about 6 minutes on 2 cores)
    python -m bench.run --quick    # a tenth of the size
    python -m bench.run --only cycles,classify --no-sweep --keep

Processes: this one only orchestrates. The feed server (`bench.server`), the
daemon under test (`bench.driver`, later `monitor run`), each floor
(`bench.floors`) and each in-process probe (`bench.probes`) run in processes
of their own, so nothing measured shares a GIL with anything else.

Output on stdout: the table, one JSON line per figure, then the details
(breakdowns, the concurrency sweep, connection counts) that explain them.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.driver import DaemonProcess
from bench.figures import Figure, Target, pending, table
from bench.floors import run_floor
from bench.latency import measure, percentile, webhook_receiver
from bench.probes import run_probe
from bench.server import ServerProcess
from bench.workdir import copy_database, write_config, write_opml
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore

MB = 1024.0  # kB per MB, for /proc figures


@dataclass(frozen=True, slots=True)
class Scale:
    feeds: int = 1_000
    hosts: int = 50  # 20 feeds per site
    changed: int = 50  # feeds with a new item in an incremental cycle
    classify_items: int = 20_000
    extra_terms: int = 1_000
    fixtures: int = 10_000
    cycles: int = 50  # cycles of one long-lived daemon process for the RSS growth figure
    growth_from: int = 5
    repeat: int = 3  # warm and incremental cycles (and their floors): median of this many
    concurrency: int = 32  # the floors' concurrency = the daemon's default fetch.concurrency
    breakdown_feeds: int = 200
    sweep: tuple[tuple[int, int], ...] = ((8, 2), (16, 2), (64, 4), (100, 2))  # (fetch.concurrency, per_host)
    latency_interval: int = 20
    latency_samples: int = 15


FULL = Scale()
QUICK = Scale(feeds=100, hosts=5, changed=5, classify_items=2_000, fixtures=1_000, cycles=15, breakdown_feeds=50,
              sweep=((8, 2), (16, 4)), latency_interval=10, latency_samples=8)

PARTS = ("startup", "cycles", "latency", "rates", "breakdown", "classify", "replay", "sweep")
EXTRA_PARTS = ("instances", "year")  # only with --only: PostgreSQL (bench/instances.py); a year of data (bench/year.py)
YEAR_SIZES = "sqlite:0,sqlite:1000000,sqlite:5000000,postgresql:5000000"


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.details.append(line)
        progress(line)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _mb(kb: float) -> float:
    return kb / MB


def _env(**settings: Any) -> dict[str, str]:
    """The environment for a daemon: no MONITOR_* of the caller's, only ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update({f"MONITOR_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@dataclass
class Bench:
    scale: Scale
    work: Path
    server: ServerProcess
    report: Report
    urls_file: Path = field(init=False)
    validators: Path = field(init=False)
    opml: Path = field(init=False)
    year_sizes: str = YEAR_SIZES

    def __post_init__(self) -> None:
        self.urls_file = self.work / "urls.json"
        self.urls_file.write_text(json.dumps(self.server.urls), encoding="utf-8")
        self.validators = self.work / "validators.json"
        self.opml = write_opml(self.work / "feeds.opml", self.server.urls)

    def config(self, name: str, **options: Any) -> tuple[Path, Path]:
        database = self.work / f"{name}.db"
        return write_config(self.work, name=f"{name}.toml", database=database, opml=self.opml, **options), database

    # -- floors ----------------------------------------------------------------

    def cold_floor(self) -> Mapping[str, Any]:
        self.server.reset()
        floor = run_floor("fetch-parse", urls=self.urls_file, validators=self.validators,
                          concurrency=self.scale.concurrency)
        self.report.note(
            f"cold floor: {floor['seconds']:.2f}s = GET {floor['fetch_s']:.2f}s + feedparser {floor['parse_s']:.2f}s "
            f"({floor['bytes'] / len(self.server.urls) / 1024:.1f} KB/feed, {floor['entries']} entries); "
            f"server saw {self._connections()}"
        )
        return floor

    def warm_floor(self) -> float:
        self.server.reset()
        floor = run_floor("conditional", validators=self.validators, concurrency=self.scale.concurrency,
                          repeat=self.scale.repeat)
        runs: list[float] = floor["runs"]
        self.report.note(f"warm floor (conditional GET, all {floor['statuses']}): runs {_seconds(runs)}; "
                         f"server saw {self._connections(len(runs))}")
        return statistics.median(runs)

    def _connections(self, runs: int = 1) -> str:
        stats = self.server.stats()
        return f"{stats['requests'] // runs} requests on {stats['connections'] // runs} new connections per run"

    # -- the daemon's cycles -------------------------------------------------------

    def cycles(self) -> None:
        scale, report = self.scale, self.report
        cold_floor = self.cold_floor()
        config, _ = self.config("daemon")
        with DaemonProcess(config, self.work / "daemon.log", env=_env()) as daemon:
            memory = Growth(daemon, scale.growth_from)
            report.note(f"daemon ready: migrations + feed sync {daemon.ready['prepare_s']:.2f}s, "
                        f"runtime build {daemon.ready['build_s']:.2f}s (not in the cycle times)")

            self.server.reset()
            cold = memory.cycle(fresh_connections=True)
            report.note(f"cold cycle: {cold['seconds']:.2f}s, {cold['results']}, {cold['new_items']} new items, "
                        f"{cold['matched']} matched; server saw {self._connections()}")
            _check(cold, scale.feeds)
            report.figures.append(Figure(f"cold cycle, {scale.feeds} feeds", cold["seconds"], "s",
                                         Target("<=", 0.8, of_floor=True), floor=cold_floor["seconds"]))
            self._peak_memory(cold["memory"])

            warm_floor = self.warm_floor()
            self.server.reset()
            warm_runs = [memory.cycle(fresh_connections=True) for _ in range(scale.repeat)]
            for run in warm_runs:
                _check(run, scale.feeds)
            report.note(f"warm cycle: runs {_seconds([r['seconds'] for r in warm_runs])}, "
                        f"{warm_runs[-1]['results']}; server saw {self._connections(scale.repeat)}")
            report.figures.append(Figure(f"warm cycle, all 304, {scale.feeds} feeds",
                                         statistics.median(r["seconds"] for r in warm_runs), "s",
                                         Target("<=", 1.1, of_floor=True), floor=warm_floor))
            self.server.reset()
            kept = memory.cycle(fresh_connections=False)
            report.note(f"warm cycle reusing the previous cycle's connections: {kept['seconds']:.2f}s; "
                        f"server saw {self._connections()}")

            incremental = []
            for _ in range(scale.repeat):
                self.server.publish(scale.changed)
                incremental.append(memory.cycle(fresh_connections=True))
                _check(incremental[-1], scale.feeds, new=scale.changed)
            report.note(f"incremental cycle ({scale.changed} changed): runs "
                        f"{_seconds([r['seconds'] for r in incremental])}, {incremental[-1]['results']}, "
                        f"{incremental[-1]['new_items']} new items")
            report.figures.append(Figure(
                f"incremental cycle, {scale.changed} of {scale.feeds} changed",
                statistics.median(r["seconds"] for r in incremental), "s", Target("<=", 2.0, of_floor=True),
                floor=warm_floor))

            started, first, changed = time.perf_counter(), memory.cycles + 1, max(1, scale.changed // 5)
            while memory.cycles < scale.cycles:
                self.server.publish(changed)
                memory.cycle(fresh_connections=False)
            report.note(f"cycles {first}..{memory.cycles} ({changed} feeds changed in each, connections kept): "
                        f"{time.perf_counter() - started:.1f}s")
            memory.figure(report)
        copy_database(self.work / "daemon.db", self.work / "after-cycles.db")

    def _peak_memory(self, family: Mapping[str, Any]) -> None:
        main = family["main"]
        workers = [c for c in family["children"] if "resource_tracker" not in c["name"]]
        self.report.figures.append(Figure(f"peak RSS, daemon process, cold cycle of {self.scale.feeds} feeds",
                                          _mb(main["hwm_kb"]), "MB", Target("<=", 150)))
        self.report.note(
            f"peak RSS (VmHWM) daemon process {_mb(main['hwm_kb']):.0f} MB; its {len(workers)} children "
            f"(forkserver + parse workers, not included above): "
            + ", ".join(f"{_mb(c['hwm_kb']):.0f}" for c in workers)
            + f" MB (sum {_mb(sum(c['hwm_kb'] for c in workers)):.0f} MB; sum of PSS now, all processes "
            f"{_mb(main['pss_kb'] + sum(c['pss_kb'] for c in family['children'])):.0f} MB)"
        )

    # -- concurrency sweep -----------------------------------------------------------

    def sweep(self) -> None:
        """Warm and incremental cycles at other fetch.concurrency / per_host values, each
        beside a conditional floor at the same concurrency. Each point starts from a copy
        of the latest database (every feed known), so no cold cycle is needed; a first
        catch-up cycle picks up what was published since and is not reported."""
        scale = self.scale
        if not self.validators.exists():
            self.cold_floor()  # the conditional floors need every feed's validators
        source = next((p for p in (self.work / "latency.db", self.work / "after-cycles.db") if p.exists()), None)
        rows = [f"concurrency sweep ({scale.hosts} hosts; warm = best of 2, each beside a conditional floor "
                "at the same concurrency; incremental vs that floor):"]
        for concurrency, per_host in ((scale.concurrency, 2), *scale.sweep):
            name = f"sweep-{concurrency}-{per_host}"
            config, database = self.config(name)
            if source is not None:
                copy_database(source, database)
            floor = run_floor("conditional", validators=self.validators, concurrency=concurrency, repeat=2)
            env = _env(fetch_concurrency=concurrency, fetch_per_host_concurrency=per_host)
            with DaemonProcess(config, self.work / f"{name}.log", env=env) as daemon:
                self.server.publish(scale.changed)  # so the catch-up cycle starts the parse workers
                daemon.cycle(fresh_connections=True)  # catch up (or cold, without a database to copy)
                warm_runs = [daemon.cycle(fresh_connections=True) for _ in range(2)]
                self.server.publish(scale.changed)
                incremental = daemon.cycle(fresh_connections=True)
            for run in warm_runs:
                _check(run, scale.feeds, new=0)
            _check(incremental, scale.feeds, new=scale.changed)
            warm = min(run["seconds"] for run in warm_runs)
            best = min(floor["runs"])
            row = (f"  concurrency {concurrency:>3} per_host {per_host}: warm {warm:5.2f}s vs floor {best:5.2f}s "
                   f"({warm / best:.2f}x), incremental {incremental['seconds']:5.2f}s "
                   f"({incremental['seconds'] / best:.2f}x)")
            rows.append(row)
            progress(row)
        self.report.details += rows

    # -- in-process probes -----------------------------------------------------------

    def breakdown(self) -> None:
        result = run_probe("breakdown", items=self.scale.breakdown_feeds)
        steps = result["ms_per_feed"]
        self.report.note(f"CPU per feed of 20 items, one step at a time ({result['feeds']} feeds, one process): "
                         + ", ".join(f"{step} {ms:.2f} ms" for step, ms in steps.items()))

    def classify(self) -> None:
        scale = self.scale
        result = run_probe("classify", items=scale.classify_items, extra_terms=scale.extra_terms)
        rate, floor = result["items"] / result["scan_s"], result["items"] / result["floor_s"]
        self.report.figures.append(Figure(
            f"classify, default pack + {scale.extra_terms} terms, {result['items']} items", rate, "items/s",
            Target(">=", 0.5, of_floor=True), floor=floor))
        self.report.note(
            f"classify: Matcher.scan {result['scan_s']:.2f}s vs bare pyahocorasick {result['floor_s']:.2f}s "
            f"({result['terms']} terms); {result['hits'] / result['items']:.1f} hits/item, "
            f"{result['matched_items']} of {result['items']} items matched; default pack alone "
            f"{result['items'] / result['pack_only_s']:,.0f} items/s; normalize() before it "
            f"{result['items'] / result['normalize_s']:,.0f} items/s (not in the figure)")
        self.classify_mixed()

    def classify_mixed(self) -> None:
        scale = self.scale
        result = run_probe("classify-mixed", items=scale.classify_items, extra_terms=scale.extra_terms)
        items = result["items"]
        self.report.figures.append(Figure(
            f"classify, six-language pack + {scale.extra_terms} terms, {items} mixed items (1/3 ar+zh)",
            items / result["scan_s"], "items/s", Target(">=", 0.4, of_floor=True), floor=items / result["floor_s"]))
        self.report.note(
            f"classify, mixed corpus: Matcher.scan {result['scan_s']:.2f}s vs bare pyahocorasick "
            f"{result['floor_s']:.2f}s ({result['terms']} terms); {result['hits'] / items:.1f} hits/item; "
            f"{result['arabic_chinese']} of {items} items Arabic or Chinese; the pack alone matched "
            f"{result['pack_matched']} items ({result['mentions']} name a watched body; "
            f"{result['pack_right']} of {items} right)")
        detected = ", ".join(f"{language} {share:.1%}" for language, share in result["detected"].items())
        self.report.note(
            f"language step (detect_language, not in the figure): {result['detect_s'] / items * 1e6:.0f} µs/item, "
            f"{items / result['detect_s']:,.0f} items/s; right on the corpus: {detected}; "
            f"RSS added: detector {result['detector_rss_kb'] / MB:.1f} MB, Chinese table "
            f"{result['chinese_table_rss_kb'] / MB:.1f} MB ({result['chinese_table_s'] * 1000:.0f} ms to build)")

    def rates(self) -> None:
        from bench.rates import measure

        found, notes = measure(self.work)
        self.report.figures.extend(found)
        for line in notes:
            self.report.note(line)

    def startup(self) -> None:
        from bench.startup import measure

        self.report.figures.extend(measure())

    def replay(self) -> None:
        result = run_probe("replay", items=self.scale.fixtures)
        rate = result["items"] / result["seconds"]
        self.report.figures.append(Figure(f"replay, {result['items']} text fixtures into SQLite", rate,
                                          "items/s", Target(">=", 5000)))
        self.report.note(
            f"replay: {result['items']} items ({result['new']} new, {result['matched']} matched, "
            f"{result['errors']} errors): load {result['load_s']:.2f}s + run {result['run_s']:.2f}s")

    # -- two instances on one PostgreSQL database ---------------------------------------

    def instances(self) -> None:
        from bench.instances import run as run_instances  # psycopg only when asked for

        run_instances(quick=self.scale is QUICK, work=self.work, report=self.report, progress=progress)

    # -- a year of data --------------------------------------------------------------------

    def year(self) -> None:
        from bench import year
        from bench.instances import ADMIN_URL

        sizes = [year.Size(backend, int(items)) for backend, items in
                 (part.split(":") for part in self.year_sizes.split(",") if part)]
        results = []
        for size in sizes:
            progress(f"year: {size.label}; load {load()}")
            results.append(year.measure_size(size, work=self.work, server=self.server, env=_env(),
                                             write_config=write_config, opml=self.opml, pg_admin=ADMIN_URL,
                                             note=self.report.note))
        self.report.figures.extend(year.figures(results))
        self.report.note(f"year: load average {load()} at the end")

    # -- latency -------------------------------------------------------------------------

    def latency(self) -> None:
        scale = self.scale
        interval = scale.latency_interval
        label = f"new item -> webhook, p95, {scale.feeds} feeds polled every {interval}s"
        target = Target("<=", interval + 2, text=f"<= interval + 2 s ({interval + 2} s)")
        database = self.work / "latency.db"
        source = self.work / "after-cycles.db"
        if source.exists():  # start warm: the feeds' items are known, every feed is due
            copy_database(source, database)
            engine = make_engine(f"sqlite:///{database}")
            FeedStore(engine).make_all_due()
            engine.dispose()
        with webhook_receiver() as (hook, receiver):
            config = write_config(
                self.work, name="latency.toml", database=database, opml=self.opml,
                schedule={"latency_target_s": interval, "min_interval_s": interval},
                tables={"channels.bench": {"type": "webhook", "url": hook}},
                routes=[{"rules": ["*"], "channel": "bench"}],
            )
            result = measure(self.server, config, database, self.work / "latency.log", interval=interval,
                             samples=scale.latency_samples, receiver=receiver)
        if not result.latencies:
            self.report.figures.append(pending(label, "s", target, result.problem or "no alert arrived"))
            self.report.note(f"latency: {result.problem}; alert rows in the database: {result.alert_rows}, "
                             f"webhook deliveries: {result.deliveries}")
            return
        p95 = percentile(result.latencies, 0.95)
        self.report.figures.append(Figure(label, p95, "s", target, floor=float(interval)))
        self.report.note(
            f"latency: {len(result.latencies)} of {result.published} alerts, p50 "
            f"{percentile(result.latencies, 0.5):.1f}s, p95 {p95:.1f}s, max {max(result.latencies):.1f}s; "
            f"{result.deliveries} deliveries" + (f"; {result.problem}" if result.problem else ""))


class Growth:
    """Counts the cycles of one daemon process and samples its memory after cycle `at` and at the end."""

    def __init__(self, daemon: DaemonProcess, at: int) -> None:
        self.daemon = daemon
        self.at = at
        self.cycles = 0
        self.sampled: dict[int, Mapping[str, Any]] = {}

    def cycle(self, *, fresh_connections: bool) -> dict[str, Any]:
        answer = self.daemon.cycle(fresh_connections=fresh_connections)
        self.cycles = int(answer["cycle"])
        if self.cycles == self.at:
            self.sampled[self.cycles] = self.daemon.memory()["memory"]["main"]
        return answer

    def figure(self, report: Report) -> None:
        end = self.daemon.memory()["memory"]["main"]
        start = self.sampled[self.at]
        growth = (end["rss_kb"] - start["rss_kb"]) / start["rss_kb"] * 100
        report.figures.append(Figure(f"RSS growth, cycle {self.at} -> {self.cycles}, one process", growth, "%",
                                     Target("<=", 5)))
        report.note(f"RSS after gc: cycle {self.at} {_mb(start['rss_kb']):.1f} MB, cycle {self.cycles} "
                    f"{_mb(end['rss_kb']):.1f} MB (VmHWM {_mb(end['hwm_kb']):.1f} MB)")


def _check(cycle: Mapping[str, Any], feeds: int, new: int | None = None) -> None:
    """A cycle that did not poll every feed cleanly measures something else: stop."""
    results = cycle["results"]
    if cycle["feeds"] != feeds or results.get("error") or (new is not None and cycle["new_items"] != new):
        raise RuntimeError(f"unexpected cycle: {cycle['feeds']} feeds, {results}, {cycle['new_items']} new, "
                           f"errors {cycle['errors']}")


def _seconds(runs: Sequence[float]) -> str:
    return "/".join(f"{r:.2f}" for r in runs) + "s"


def load() -> str:
    """The 1-minute load average: other work on the machine makes every number noisier."""
    return Path("/proc/loadavg").read_text().split()[0]


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}"


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="press-monitor-bench-"))
    try:
        yield path
    except BaseException:
        progress(f"failed; logs kept in {path}")
        raise
    else:
        if keep:
            progress(f"work directory kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated subset of {','.join(PARTS + EXTRA_PARTS)} (default: all but "
                             f"{','.join(EXTRA_PARTS)})")
    parser.add_argument("--no-sweep", action="store_true", help="skip the concurrency sweep")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs, databases)")
    parser.add_argument("--gzip", action="store_true", help="serve feeds gzip-compressed")
    parser.add_argument("--year-sizes", default=YEAR_SIZES,
                        help=f"the year part's databases, backend:items,... (default {YEAR_SIZES})")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    parts = [p for p in args.only.split(",") if p]
    if unknown := set(parts) - set(PARTS + EXTRA_PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    if args.no_sweep and "sweep" in parts:
        parts.remove("sweep")

    report = Report()
    started = time.perf_counter()
    load_before = load()
    progress(f"{machine()}; {scale.feeds} feeds on {scale.hosts} hosts; load {load_before}")
    with workdir(args.keep) as work, ServerProcess(feeds=scale.feeds, hosts=scale.hosts, gzip=args.gzip) as server:
        bench = Bench(scale, work, server, report, year_sizes=args.year_sizes)
        for part in PARTS + EXTRA_PARTS:
            if part in parts:
                progress(f"--- {part}")
                getattr(bench, part)()

    print(f"press-monitor bench: {machine()}; {scale.feeds} feeds on {scale.hosts} hosts"
          f"{', gzip' if args.gzip else ''}; {time.perf_counter() - started:.0f}s in all; "
          f"load average {load_before} before, {load()} after\n")
    print(table(report.figures))
    print()
    for figure in report.figures:
        print(figure.as_json())
    print("\ndetails:")
    for line in report.details:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
