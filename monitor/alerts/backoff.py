"""When to try a failed delivery again.

The schedule is configured (default close to Standard Webhooks': 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 10 h); each delay is jittered so that alerts failing
together (a receiver outage) do not all come back in the same second, and a
receiver's Retry-After is honoured when it asks for longer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence


def next_delay(
    attempts: int,
    schedule: Sequence[float],
    *,
    jitter: float = 0.2,
    retry_after_s: float | None = None,
    max_retry_after_s: float = 86400.0,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones; None = give up (dead)."""
    if attempts < 1:
        raise ValueError("attempts counts the failed attempts so far, from 1")
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    delay = base * (1 + jitter * (2 * rand() - 1))
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_retry_after_s))
    return delay
