"""Requests per client, as a token bucket: `rate` requests a minute, in bursts
of up to `rate`. Pure (the clock is passed in): the API asks it, then answers
429 with the Retry-After it says."""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_CLIENTS = 10_000  # buckets kept; full ones are dropped first when there are more


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: str, now: float) -> float | None:
        """None when `client` may go ahead (one token taken), else the seconds
        until it may (a whole number, at least 1: what Retry-After says)."""
        bucket = self._buckets.get(client)
        if bucket is None:
            self._prune(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.refill_per_s)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return float(max(1, math.ceil((1 - bucket.tokens) / self.refill_per_s)))

    def _prune(self, now: float) -> None:
        if len(self._buckets) < MAX_CLIENTS:
            return
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.refill_per_s >= self.capacity]
        for key in full or list(self._buckets)[: MAX_CLIENTS // 10]:
            del self._buckets[key]
