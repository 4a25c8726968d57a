"""`monitor run` as a real subprocess, its log read as it is written.

The daemon logs JSON here (MONITOR_LOG_FORMAT=json), one event per line, and a
thread collects the events, so a test waits for what the daemon says it did
(`reload_failed`, `web_listening` with its URL…) instead of sleeping and
hoping, and a chatty daemon never blocks on a full stderr pipe.

    with DaemonProcess(config) as daemon:
        url = daemon.wait_for("web_listening")["url"]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self


class DaemonProcess:
    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            env={**os.environ, "MONITOR_LOG_FORMAT": "json", **(env or {})},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="daemon-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                event = None  # a traceback or a library's own line: kept in `lines`
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                if isinstance(event, dict):
                    self.events.append(event)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def log(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def named(self, event: str) -> list[dict[str, Any]]:
        with self._changed:
            return [e for e in self.events if e.get("event") == event]

    def wait_for(self, event: str, timeout: float = 30.0, after: int = 0) -> dict[str, Any]:
        """The first `event` logged (after the first `after` events); fails if the
        daemon exits or `timeout` passes first (a guard against a hang, not a speed limit)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for logged in self.events[after:]:
                    if logged.get("event") == event:
                        return logged
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"the daemon exited ({self.proc.returncode}) without {event!r}:\n"
                                         + "\n".join(self.lines[-40:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {event!r} within {timeout:g}s:\n" + "\n".join(self.lines[-40:]))
                self._changed.wait(min(left, 0.5))

    def mark(self) -> int:
        """How many events so far: `wait_for(..., after=daemon.mark())` waits for a new one."""
        with self._changed:
            return len(self.events)

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code (the daemon drains and releases its leases first)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(10)
        return code

    def __enter__(self) -> Self:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(10)
