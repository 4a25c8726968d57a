"""New item published -> webhook received, through the real daemon (`monitor run`).

The daemon polls every feed of the bench server at a fixed interval
(`schedule.latency_target_s = min_interval_s = interval`; every other setting,
`schedule.tick_s` and `alerts.dispatch_tick_s` included, keeps its default),
routes every rule to a webhook channel, and a receiver here records when each
alert arrives. Items are published one at a time at random moments; an alert
is matched to its item by the item's guid (`press-N`), which the payload
carries in the guid or the link. Latency = receipt time - publish time.

If nothing arrives, the database says why: no alert rows means the pipeline
does not create alerts yet (alerts not built); rows but no delivery means the
dispatcher does not deliver them.
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.corpus import ROOT
from bench.processes import end
from bench.server import ServerProcess

_GUID = re.compile(rb"press-(\d+)")


@dataclass
class Receiver:
    """Arrival time of the first delivery of each guid."""

    arrivals: dict[str, float] = field(default_factory=dict)
    deliveries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: bytes) -> None:
        now = time.time()
        with self.lock:
            self.deliveries += 1
            for match in _GUID.finditer(body):
                self.arrivals.setdefault(f"press-{match.group(1).decode()}", now)


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.record(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True, slots=True)
class LatencyResult:
    latencies: list[float]
    published: int
    alert_rows: int | None
    deliveries: int
    problem: str | None  # why there are no latencies


def _alert_rows(database: Path) -> int | None:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM alerts").fetchone()[0])
    except sqlite3.Error:
        return None


def _wait_for(log: Path, needle: str, timeout: float, daemon: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            return False
        if log.exists() and needle in log.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


def measure(server: ServerProcess, config: Path, database: Path, log: Path, *, interval: float, samples: int,
            receiver: Receiver, seed: int = 11) -> LatencyResult:
    """Run `monitor run` on `config` and publish `samples` items, one at a time."""
    command = [str(Path(sys.executable).with_name("monitor")), "--config", str(config), "run"]
    with log.open("ab") as stderr:
        daemon = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
                                  env={k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")})
    try:
        if not _wait_for(log, "event=cycle", timeout=120, daemon=daemon):
            return LatencyResult([], 0, _alert_rows(database), receiver.deliveries,
                                 "daemon did not finish a first cycle (see its log)")
        rng = random.Random(seed)
        published: dict[str, float] = {}
        for _ in range(samples):
            answer = server.call("publish", count=1, mentions=True)
            published[answer["published"][0]["guid"]] = answer["at"]
            time.sleep(rng.uniform(0, 3 * interval / samples))  # arrivals spread over ~1.5 intervals
        deadline = time.monotonic() + interval * 1.2 + 30
        while time.monotonic() < deadline and not published.keys() <= receiver.arrivals.keys():
            time.sleep(0.2)
        latencies = sorted(receiver.arrivals[g] - at for g, at in published.items() if g in receiver.arrivals)
        lost = len(published) - len(latencies)
        problem = f"{lost} of {len(published)} alerts never arrived" if lost else None
        rows = _alert_rows(database)
        if not latencies:
            problem = "alerts not built" if not rows else "alerts stored but not delivered"
        return LatencyResult(latencies, len(published), rows, receiver.deliveries, problem)
    finally:
        stop_daemon(daemon)


def stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd stops it; SIGKILL if it has not drained in 40 s."""
    daemon.send_signal(signal.SIGTERM)
    end(daemon, 40)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    rank = max(1, min(len(values), math.ceil(share * len(values))))
    return sorted(values)[rank - 1]
