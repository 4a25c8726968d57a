"""`/healthz`: is the daemon doing its job, as a load balancer or monitor asks it.

Checks, all needed for a 200: the scheduler ticked recently (a daemon whose
event loop serves HTTP but whose polling is wedged must not look healthy), the
database answers, and (in the daemon) polls have not all been failing for longer
than `schedule.max_failing_s` (a daemon that ticks but gets nowhere is not
healthy either). The body is JSON naming each check, so whoever is
paged sees at once which one failed.

The web layer does not know the daemon: it asks a `HealthProbe`, which the
daemon provides (`TickProbe` wraps its `last_tick` monotonic timestamp).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from monitor.store.queries import DashboardQueries

DB_TIMEOUT_S = 3.0


@runtime_checkable
class HealthProbe(Protocol):
    """What /healthz needs to know about the scheduler."""

    @property
    def max_tick_age_s(self) -> float:
        """Older than this, the scheduler counts as stuck."""
        ...

    def tick_age_s(self) -> float | None:
        """Seconds since the scheduler last ticked; None before its first tick."""
        ...


@runtime_checkable
class PollingProbe(Protocol):
    """What /healthz needs to know about polling (`monitor.pipeline.polling.PollHealth`)."""

    max_failing_s: float

    def failing_s(self) -> float | None:
        """Seconds polls have been failing with none succeeding; None if the last one succeeded."""
        ...

    def ok(self) -> bool:
        """False once they have been failing for longer than `max_failing_s`."""
        ...


@dataclass(frozen=True, slots=True)
class TickProbe:
    """A `HealthProbe` over a function returning the last tick's `time.monotonic()`
    (e.g. `lambda: daemon.last_tick`), or None when it never ticked."""

    last_tick: Callable[[], float | None]
    max_tick_age_s: float
    clock: Callable[[], float] = field(default=time.monotonic)

    def tick_age_s(self) -> float | None:
        last = self.last_tick()
        return None if last is None else max(self.clock() - last, 0.0)


def check_scheduler(probe: HealthProbe) -> dict[str, Any]:
    age = probe.tick_age_s()
    if age is None:
        return {"ok": False, "error": "the scheduler has not ticked yet", "max_age_s": probe.max_tick_age_s}
    ok = age <= probe.max_tick_age_s
    result: dict[str, Any] = {"ok": ok, "last_tick_age_s": round(age, 3), "max_age_s": probe.max_tick_age_s}
    if not ok:
        result["error"] = f"no scheduler tick for {age:.0f} s (limit {probe.max_tick_age_s:.0f} s)"
    return result


def check_polling(probe: PollingProbe) -> dict[str, Any]:
    failing = probe.failing_s()
    if failing is None:
        return {"ok": True}
    ok = probe.ok()
    result: dict[str, Any] = {"ok": ok, "failing_s": round(failing, 3), "max_failing_s": probe.max_failing_s}
    if not ok:
        result["error"] = f"no feed polled successfully for {failing:.0f} s while polls fail (limit {probe.max_failing_s:.0f} s)"
    return result


async def check_database(queries: DashboardQueries, timeout_s: float = DB_TIMEOUT_S) -> dict[str, Any]:
    started = time.monotonic()
    try:
        await asyncio.wait_for(run_in_threadpool(queries.ping), timeout_s)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {timeout_s:g} s"}
    except Exception as exc:  # any driver error means "does not answer"
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def healthz_endpoint(
    queries: DashboardQueries, probe: HealthProbe, polling: PollingProbe | None = None
) -> Callable[[Request], Any]:
    async def healthz(request: Request) -> JSONResponse:
        checks = {"scheduler": check_scheduler(probe), "database": await check_database(queries)}
        if polling is not None:
            checks["polling"] = check_polling(polling)
        healthy = all(c["ok"] for c in checks.values())
        failed = [name for name, c in checks.items() if not c["ok"]]
        return JSONResponse(
            {"status": "ok" if healthy else "failing", "failed": failed, "checks": checks},
            status_code=200 if healthy else 503,
            headers={"Cache-Control": "no-store"},
        )

    return healthz
