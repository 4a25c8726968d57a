"""Start-up cost of the CLI, as a cron user pays it: whole processes, median of 5.

    python -m bench.startup            # prints the figures and their JSON lines
    python -m bench.run --only startup # the same inside the full report

Three commands: `monitor --version`, `monitor --help`, and `monitor poll --once`
on a migrated SQLite database whose feeds are all due later (nothing to do).
Each figure is wall time from spawn to exit, with the peak RSS of that process.
This process stays small (the database is set up by a child) because a spawned
child's peak RSS counts the parent's memory at the moment of the spawn.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.figures import Figure, Target, table

RUNS = 5
MONITOR = [sys.executable, "-m", "monitor"]


def timed(args: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one whole process."""
    started = time.perf_counter()
    pid = os.posix_spawn(args[0], list(args), env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {os.waitstatus_to_exitcode(status)}")
    return seconds, usage.ru_maxrss / 1024


def median_of(args: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    runs = [timed(args, env) for _ in range(RUNS)]
    return statistics.median(s for s, _ in runs), max(mb for _, mb in runs)


def nothing_due(directory: Path) -> Path:
    """A config whose one feed was polled and is not due again for an hour (run in a child)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from bench.workdir import write_config
    from monitor.app import App, sync_feeds
    from monitor.config import load_config
    from monitor.store.models import Feed

    opml = directory / "feeds.opml"
    opml.write_text('<opml version="2.0"><body><outline type="rss" xmlUrl="http://127.0.0.1:9/feed.xml"/>'
                    "</body></opml>", encoding="utf-8")
    config = write_config(directory, database=directory / "startup.db", opml=opml, log_level="WARNING")
    app = App(load_config(config))
    sync_feeds(app)
    with app.engine.begin() as conn:
        conn.execute(update(Feed).values(next_poll_at=datetime.now(UTC) + timedelta(hours=1)))
    app.engine.dispose()
    return config


def measure() -> list[Figure]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        setup = subprocess.run([sys.executable, "-m", "bench.startup", "--setup", tmp],
                               check=True, capture_output=True, text=True)
        config = Path(setup.stdout.strip().splitlines()[-1])  # after any log line
        commands = [
            ("monitor --version", [*MONITOR, "--version"], 0.25),
            ("monitor --help", [*MONITOR, "--help"], 0.25),
            ("monitor poll --once, nothing due", [*MONITOR, "--config", str(config), "poll", "--once"], 0.6),
        ]
        timed(commands[0][1], env)  # warm the page cache once
        figures = []
        for name, args, bound in commands:
            seconds, peak_mb = median_of(args, env)
            figures.append(Figure(f"{name} (peak {peak_mb:.0f} MB)", seconds, "s", Target("<=", bound)))
    return figures


def main() -> int:
    if sys.argv[1:2] == ["--setup"]:
        print(nothing_due(Path(sys.argv[2])))
        return 0
    print(f"load average {os.getloadavg()[0]:.2f}; median of {RUNS} whole processes each\n")
    figures = measure()
    print(table(figures))
    print()
    for figure in figures:
        print(figure.as_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
