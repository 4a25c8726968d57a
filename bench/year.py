"""`python -m bench.run --only year`: the daemon on day 365 against day 1.

For each size (items already stored: 0, 1 M, 5 M on SQLite; PostgreSQL with
`--year-pg`), in the same run: a database filled by `bench.yeardata`, whose
busiest 1,000 sources are the bench feed server's feeds (so the cold cycle's
guid lookups land in feeds with a year of history); then, measured:

* ingest: a cold cycle of the 1,000 bench feeds (20,000 new items, dedupe
  lookups included) as items/s, and a warm cycle (all 304); then four more
  cold cycles (the server publishes 20,000 new items before each), and the
  median of the five is the figure: one cycle's rate varied from 1,058 to
  2,131 items/s between runs on the 2-core bench machine;
* the dashboard, served by uvicorn in a process of its own: the matches page
  without and with filters, the feeds page, /matches.atom and /metrics, 50
  requests each (p50/p95), and the chart's query alone;
* `monitor rules test --since 30d` over the database (`rules_test_hook`);
* the retention job over the year (everything older than 30 days still has
  its text: the worst case), its longest single transaction;
* start-up's integrity check (`engine.verify`) and the size on disk per
  million items, before and after retention.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.corpus import ROOT
from bench.driver import DaemonProcess
from bench.figures import Figure, Target, pending
from bench.latency import percentile
from bench.processes import end
from bench.yeardata import Shape, feed_url, generate
from monitor.store.engine import make_engine

REQUESTS = 50
COLD_CYCLES = 5  # per size: the first after the load, then four more, each of 20,000 new items
FIRST: dict[str, float] = {}  # each path's first request (not in its p50/p95: caches are cold), ms
PAGE_TARGET_MS = 300.0
INGEST_RATIO = 1.25
RETENTION_TARGET_S = 60.0
STEP_TARGET_S = 1.0


@dataclass(frozen=True, slots=True)
class Size:
    backend: str  # "sqlite" or "postgresql"
    items: int

    @property
    def label(self) -> str:
        millions = self.items / 1_000_000
        amount = f"{millions:g} M" if self.items >= 100_000 else f"{self.items:,}"
        return f"{self.backend} {amount}"


def rules_test_hook(config: Path, env: dict[str, str]) -> dict[str, Any] | None:
    """`monitor rules test --since 30d` over the database, as an operator runs it: the
    whole process, wall clock, and the items it tried (its stderr's last line)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "rules", "test",
                           "--since", "30d", "--json"], capture_output=True, text=True, env=env, timeout=3600)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        return {"seconds": seconds, "items": None, "error": done.stderr.strip().splitlines()[-1:]}
    tried = next((line for line in reversed(done.stderr.splitlines()) if "stored items tried" in line), "")
    items = int(tried.split()[0]) if tried[:1].isdigit() else None
    return {"seconds": round(seconds, 2), "items": items,
            "items_per_s": round(items / seconds) if items else None}


def _database(work: Path, size: Size, pg_admin: str | None) -> str:
    if size.backend == "sqlite":
        path = work / f"year-{size.items}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    from sqlalchemy import text

    assert pg_admin is not None
    name = f"bench_year_{size.items}"
    admin = make_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(make_engine(pg_admin).url.set(database=name).render_as_string(hide_password=False))


def _drop(url: str, pg_admin: str | None) -> None:
    if not url.startswith("postgresql") or pg_admin is None:
        return
    from sqlalchemy import text

    admin = make_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_engine(url).url.database}" WITH (FORCE)'))
    admin.dispose()


def _adopt_feeds(url: str, server_urls: Sequence[str]) -> None:
    """The generated sources 1..1000 become the bench server's feeds (their URLs)."""
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.begin() as conn:
        for n, served in enumerate(server_urls, start=1):
            conn.execute(text("UPDATE feeds SET url = :new WHERE url = :old"), {"new": served, "old": feed_url(n)})
    engine.dispose()


def _settle(url: str) -> None:
    """Write the generated gigabytes out before measuring: left to the kernel, their
    writeback ran during the cold cycle (5 M items: 12 GB) and its fsyncs waited
    behind it, which a daemon a year old does not see."""
    if url.startswith("postgresql"):
        from sqlalchemy import text

        engine = make_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
        engine.dispose()
    os.sync()


def size_bytes(url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.connect() as conn:
        value = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    engine.dispose()
    return value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebProcess:
    """The dashboard over `config`'s database, in a uvicorn process of its own."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = _free_port()
        self._log = log.open("ab")
        self._process = subprocess.Popen([sys.executable, "-m", "bench.year", "--serve", str(config),
                                          str(self.port)], cwd=ROOT, stdout=self._log, stderr=self._log)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        import httpx

        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/healthz", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"dashboard did not start; see {log}")

    def close(self) -> None:
        self._process.terminate()
        end(self._process, 20)
        self._log.close()


def _serve(config_path: Path, port: int) -> None:
    from monitor.app import App
    from monitor.config import load_config
    from monitor.web.dashboard import create_app
    from monitor.web.health import TickProbe
    from monitor.web.server import serve
    from monitor.web.settings import WebSettings

    app = App(load_config(config_path))
    web = create_app(app.read_engine, WebSettings(port=port),
                     health=TickProbe(time.monotonic, max_tick_age_s=10**9))
    asyncio.run(serve(web, WebSettings(port=port), asyncio.Event()))


def time_requests(base: str, path: str, count: int = REQUESTS) -> list[float]:
    import httpx

    times = []
    with httpx.Client(base_url=base, timeout=60) as client:
        began = time.perf_counter()
        client.get(path).raise_for_status()  # warm-up: templates, first connection, caches
        FIRST[path] = (time.perf_counter() - began) * 1000
        for _ in range(count):
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
    return times


def _pages(url: str) -> dict[str, str]:
    """The pages to time, with filters that a busy analyst would use."""
    from sqlalchemy import text

    engine = make_engine(url)
    with engine.connect() as conn:
        feed = conn.execute(text("SELECT feed_id FROM items WHERE matched ORDER BY id DESC LIMIT 1")).scalar()
    engine.dispose()
    since = (date.today() - timedelta(days=30)).isoformat()
    pages = {
        "matches page": "/",
        "matches page, rule filter": "/?rule=ohchr",
        "matches page, rule + 30 days + hide not relevant": f"/?rule=upr&since={since}&hide=1",
        "matches page, page 20": "/?page=20",
        "feeds page": "/feeds",
        "/matches.atom": "/matches.atom",
        "/metrics": "/metrics",
    }
    if feed is not None:
        pages["matches page, source filter"] = f"/?source={feed}"
    return pages


def _chart_ms(url: str) -> list[float]:
    from monitor.store.queries import DashboardQueries
    from monitor.web import chart

    engine = make_engine(url, read_mostly=True)
    queries = DashboardQueries(engine)
    times = []
    for _ in range(REQUESTS + 1):
        began = time.perf_counter()
        chart.build(queries.per_rule_per_day(days=30))
        times.append((time.perf_counter() - began) * 1000)
    engine.dispose()
    return times[1:]


def _verify_s(url: str) -> float | None:
    if not url.startswith("sqlite"):
        return None
    from monitor.store.engine import verify

    engine = make_engine(url)
    began = time.perf_counter()
    verify(engine)
    engine.dispose()
    return time.perf_counter() - began


def _retention(url: str) -> Any:
    from monitor.store.retention import Retention, RetentionPolicy

    engine = make_engine(url)
    now = datetime.now(UTC)
    policy = RetentionPolicy(texts_before=now - timedelta(days=30), attempts_before=now - timedelta(days=90))
    report = Retention(engine).run(policy)
    engine.dispose()
    return report


def measure_size(size: Size, *, work: Path, server: Any, env: dict[str, str], write_config: Callable[..., Path],
                 opml: Path, pg_admin: str | None, note: Callable[[str], None]) -> dict[str, Any]:
    url = _database(work, size, pg_admin)
    result: dict[str, Any] = {"size": size}
    try:
        began = time.perf_counter()
        made = generate(url, Shape(size.items), progress=lambda line: None) if size.items else {}
        result["generate"] = made
        if size.items:
            note(f"year {size.label}: generated {made['items']:,} items, {made['hits']:,} hits, "
                 f"{made['alerts']:,} alerts, {made['delivery_attempts']:,} attempts in "
                 f"{time.perf_counter() - began:.0f}s (load {made['load_s']:.0f}s, indexes {made['index_s']:.0f}s)")
            _adopt_feeds(url, server.urls)
            _settle(url)
        result["verify_s"] = _verify_s(url) if size.items else None
        result["bytes"] = size_bytes(url) if size.items else 0
        name = f"year-{size.backend}-{size.items}"
        config = write_config(work, name=f"{name}.toml", database=work / "unused.db", opml=opml,
                              tables={"database": {"url": url}})
        with DaemonProcess(config, work / f"{name}.log", env=env) as daemon:
            server.reset()
            colds = [daemon.cycle(fresh_connections=True)]
            warm = daemon.cycle(fresh_connections=True)
            for _ in range(COLD_CYCLES - 1):  # every feed's whole window new again: another cold cycle
                server.publish(colds[0]["new_items"])
                colds.append(daemon.cycle(fresh_connections=True))
        result["colds"], result["warm"] = colds, warm
        cold = colds[0]
        note(f"year {size.label}: cold cycle {cold['seconds']:.1f}s, {cold['new_items']} new items "
             f"({cold['new_items'] / cold['seconds']:,.0f}/s), {cold['matched']} matched, {cold['results']}; "
             f"warm cycle {warm['seconds']:.2f}s {warm['results']}; cold cycles' rates "
             + ", ".join(f"{c['new_items'] / c['seconds']:,.0f}" for c in colds)
             + f" items/s (median {ingest_rate(result):,.0f})")
        web = WebProcess(config, work / f"{name}-web.log")
        paths = _pages(url)
        try:
            result["pages"] = {label: time_requests(web.base, path) for label, path in paths.items()}
        finally:
            web.close()
        result["pages"]["chart (query + geometry)"] = _chart_ms(url)
        for label, times in result["pages"].items():
            first = FIRST.get(paths.get(label, ""))
            note(f"year {size.label}: {label}: p50 {percentile(times, 0.5):.1f} ms, "
                 f"p95 {percentile(times, 0.95):.1f} ms, max {max(times):.1f} ms"
                 + (f"; first request {first:.0f} ms" if first is not None else ""))
        result["rules_test"] = rules_test_hook(config, env)
        retention = _retention(url)
        result["retention"] = retention
        note(f"year {size.label}: retention {retention.seconds:.1f}s: {retention.texts:,} texts dropped, "
             f"{retention.attempts:,} attempts deleted in {retention.transactions} transactions, longest "
             f"{retention.longest_s * 1000:.0f} ms, median "
             f"{statistics.median(s for _, s in retention.steps) * 1000 if retention.steps else 0:.0f} ms; "
             f"texts {retention.seconds_of('texts'):.1f}s, attempts {retention.seconds_of('attempts'):.1f}s")
        if url.startswith("sqlite") and size.items:
            began = time.perf_counter()
            import sqlite3

            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            try:  # in WAL mode VACUUM writes through the WAL: checkpoint it, or the size counts twice
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            result["vacuum_s"] = time.perf_counter() - began
        result["bytes_after"] = size_bytes(url) if size.items else 0
        if size.items:
            note(f"year {size.label}: on disk {result['bytes'] / 1e9:.2f} GB "
                 f"({result['bytes'] / size.items * 1e6 / 1e9:.2f} GB per million items) with every text; "
                 f"{result['bytes_after'] / 1e9:.2f} GB ({result['bytes_after'] / size.items:.0f} B/item) "
                 f"after retention" + (f" and VACUUM ({result['vacuum_s']:.0f}s)" if "vacuum_s" in result else "")
                 + (f"; start-up integrity check {result['verify_s']:.2f}s" if result["verify_s"] else ""))
    finally:
        _drop(url, pg_admin)
    return result


def ingest_rate(result: dict[str, Any]) -> float:
    """The median of a size's cold cycles: one cycle's rate varies by half between runs here."""
    return statistics.median(c["new_items"] / c["seconds"] for c in result["colds"])


def figures(results: Sequence[dict[str, Any]]) -> list[Figure]:
    found: list[Figure] = []
    floors = {r["size"].backend: r for r in results if r["size"].items == 0}
    for r in results:
        size: Size = r["size"]
        rate = ingest_rate(r)
        base = floors.get(size.backend) or floors.get("sqlite")
        floor = ingest_rate(base) if base else None
        found.append(Figure(f"year {size.label}: ingest, median of {len(r['colds'])} cold cycles of 20,000 items",
                            rate, "items/s",
                            Target(">=", 1 / INGEST_RATIO, of_floor=True,
                                   text=f">= 0 items' rate / {INGEST_RATIO}"), floor=floor))
        found.append(Figure(f"year {size.label}: warm cycle (all 304)", r["warm"]["seconds"], "s",
                            Target("<=", 1.25, of_floor=True), floor=base["warm"]["seconds"] if base else None))
        for label, times in r["pages"].items():
            found.append(Figure(f"year {size.label}: {label}, p95 of {len(times)}", percentile(times, 0.95), "ms",
                                Target("<=", PAGE_TARGET_MS)))
        if r["rules_test"] is None:
            found.append(pending(f"year {size.label}: `monitor rules test`, last 30 days", "s",
                                 Target("<=", 60), "hook not wired (issue 12)"))
        else:
            found.append(Figure(f"year {size.label}: `monitor rules test`, last 30 days", r["rules_test"]["seconds"],
                                "s", Target("<=", 60)))
        if size.items:
            retention = r["retention"]
            found.append(Figure(f"year {size.label}: retention over the year", retention.seconds, "s",
                                Target("<=", RETENTION_TARGET_S)))
            found.append(Figure(f"year {size.label}: retention, longest transaction", retention.longest_s, "s",
                                Target("<=", STEP_TARGET_S)))
            found.append(Figure(f"year {size.label}: disk per million items, texts kept 30 days",
                                r["bytes_after"] / size.items * 1e6 / 1e9, "GB", Target("<=", 10)))
            if r["verify_s"] is not None:
                found.append(Figure(f"year {size.label}: start-up integrity check", r["verify_s"], "s",
                                    Target("<=", 1)))
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="bench.year helper: serve the dashboard")
    parser.add_argument("--serve", nargs=2, metavar=("CONFIG", "PORT"), required=True)
    args = parser.parse_args(argv)
    os.environ.pop("MONITOR_DATABASE_URL", None)
    _serve(Path(args.serve[0]), int(args.serve[1]))


if __name__ == "__main__":
    main()
