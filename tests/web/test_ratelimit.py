"""The API's token bucket, on a clock the test moves."""

from __future__ import annotations

from monitor.web.ratelimit import RateLimiter


def test_a_burst_up_to_the_rate_then_one_request_per_interval() -> None:
    limiter = RateLimiter(per_minute=6)  # one token every 10 s
    assert [limiter.take("a", 0.0) for _ in range(6)] == [None] * 6
    assert limiter.take("a", 0.0) == 10.0
    assert limiter.take("b", 0.0) is None  # per client
    assert limiter.take("a", 5.0) == 5.0
    assert limiter.take("a", 10.0) is None
    assert limiter.take("a", 10.0) == 10.0
    assert [limiter.take("a", 1000.0) for _ in range(7)].count(None) == 6  # refilled to the burst, no more
