"""A long-lived daemon process under measurement, driven over a pipe.

It builds what `monitor.app.poll_once` and `Daemon.run` build, from a real
config file (`load_config` -> `App` -> `prepare_database` -> `build`: fetcher,
worker-process pool, poller), once, and then runs `Poller.run_cycle` on
command, as the daemon's tick does. Between commands it reports its own
memory (VmHWM/VmRSS) and that of its descendants (the forkserver and the
parse workers).

`fresh_connections` replaces the fetcher before a cycle: in production the
interval between two polls of a feed (5 min at least) is longer than the
fetcher's keep-alive (30 s), so every cycle starts without open connections.
The floors start without connections too.

Protocol: one JSON line `{"ready": ...}` once built, then one JSON answer per
command line on stdin:

    {"cmd": "cycle", "fresh_connections": true}  -> {"seconds", "results", "new_items", "memory", ...}
    {"cmd": "cycle", "make_due": false}          -> the same, without first making every feed due
                                                    (when several drivers share one database)
    {"cmd": "memory"}                            -> {"memory": ...}   (after gc.collect())

EOF on stdin shuts it down as the daemon does. The protocol uses a duplicate
of stdout; the process's own stdout goes to stderr with the daemon's log.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from bench.corpus import ROOT
from bench.processes import end
from bench.procmem import family
from monitor import logs
from monitor.app import App, owner_id, prepare_database
from monitor.config import load_config
from monitor.daemon import Runtime, build
from monitor.ingest.http import Fetcher


class Driver:
    def __init__(self, runtime: Runtime, db: ThreadPoolExecutor, profile: Path | None) -> None:
        self.runtime = runtime
        self.db = db
        self.cycles = 0
        self.profile = profile

    async def cycle(self, *, fresh_connections: bool, make_due: bool = True) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        poller = self.runtime.poller
        if make_due:
            await loop.run_in_executor(self.db, poller.feeds.make_all_due)
        if fresh_connections:
            await self.runtime.fetcher.aclose()
            self.runtime.fetcher = poller.fetcher = Fetcher(self.runtime.app.config.settings.fetch)
        profiler = cProfile.Profile() if self.profile and self.cycles == 0 else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = await poller.run_cycle()
        seconds = time.perf_counter() - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(self.profile))
        self.cycles += 1
        errors = [p.error for p in report.polls if p.error][:3]
        return {
            "cycle": self.cycles, "seconds": seconds, "feeds": len(report.polls),
            "results": dict(Counter(p.result for p in report.polls)), "new_items": report.new_items,
            "matched": sum(p.matched for p in report.polls), "errors": errors,
            "memory": family(),
        }

    async def memory(self) -> dict[str, Any]:
        gc.collect()
        return {"cycle": self.cycles, "memory": family()}


async def serve(config_path: Path, out: TextIO, profile: Path | None) -> None:
    loop = asyncio.get_running_loop()
    config = load_config(config_path)
    logs.configure(config.settings.log.level, config.settings.log.format)
    app = App(config)
    db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
    started = time.perf_counter()
    await loop.run_in_executor(db, prepare_database, app)
    prepared = time.perf_counter()
    runtime = await build(app, owner_id(), db)
    driver = Driver(runtime, db, profile)

    def answer(value: Mapping[str, Any]) -> None:
        out.write(json.dumps(value) + "\n")
        out.flush()

    answer({"ready": True, "pid": os.getpid(), "prepare_s": prepared - started,
            "build_s": time.perf_counter() - prepared})
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            if command["cmd"] == "cycle":
                answer(await driver.cycle(fresh_connections=bool(command.get("fresh_connections")),
                                          make_due=bool(command.get("make_due", True))))
            elif command["cmd"] == "memory":
                answer(await driver.memory())
            else:
                answer({"error": f"unknown command {command!r}"})
    finally:
        await runtime.close()
        db.shutdown(wait=True)
        app.engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the daemon's polling cycle on command.")
    parser.add_argument("config", type=Path)
    parser.add_argument("--profile", type=Path, help="cProfile the first cycle (event-loop thread) into this file")
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints must not corrupt the protocol
    asyncio.run(serve(args.config, out, args.profile))


class DaemonProcess:
    """Client side: `with DaemonProcess(config, log) as daemon: daemon.cycle()`."""

    def __init__(self, config: Path, log: Path, *, env: Mapping[str, str] | None = None,
                 profile: Path | None = None) -> None:
        command = [sys.executable, "-m", "bench.driver", str(config)]
        if profile is not None:
            command += ["--profile", str(profile)]
        self._log = log.open("ab")
        self.log = log
        self._process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            bufsize=1, env={**os.environ, **(env or {})},
        )
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"daemon driver exited with {self._process.wait()}; log tail:\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def send(self, **command: Any) -> None:
        """Send a command without waiting for its answer (`receive` reads it): several
        drivers can then start a cycle at the same moment."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        return self._read()

    def _call(self, **command: Any) -> dict[str, Any]:
        self.send(**command)
        return self._read()

    def cycle(self, *, fresh_connections: bool = True) -> dict[str, Any]:
        return self._call(cmd="cycle", fresh_connections=fresh_connections)

    def memory(self) -> dict[str, Any]:
        return self._call(cmd="memory")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        end(self._process, 60)
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


if __name__ == "__main__":
    main()
