"""Ending the processes a benchmark starts."""

from __future__ import annotations

import subprocess
from typing import Any


def end(process: subprocess.Popen[Any], timeout: float) -> None:
    """Wait up to `timeout` s for `process` to end as it was asked (its stdin closed,
    or a signal sent), then kill it: a hung child must neither stall the run nor
    outlive it."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
