"""The floors: what the same work costs done plainly, in one process.

* `fetch-parse`: plain httpx GET of every feed (an AsyncClient, at most
  `concurrency` requests in flight), then `feedparser.parse` of each body, one
  after the other. It also saves every feed's validators for `conditional`.
* `conditional`: plain conditional httpx GET (If-None-Match/If-Modified-Since)
  of every feed; every answer should be a 304.

Each repetition uses a new client, so it starts without open connections as
the daemon's cycles do (see `bench.driver`). Run as a process of its own
(`python -m bench.floors ...`), so the floor never shares a GIL with the
server or the daemon; it prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import feedparser
import httpx

from bench.corpus import ROOT

Validators = dict[str, tuple[str | None, str | None]]


async def get_all(
    urls: Sequence[str], concurrency: int, validators: Validators | None = None
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:

        async def one(url: str) -> httpx.Response:
            headers: dict[str, str] = {}
            if validators is not None:
                etag, modified = validators[url]
                if etag:
                    headers["If-None-Match"] = etag
                if modified:
                    headers["If-Modified-Since"] = modified
            async with gate:
                return await client.get(url, headers=headers)

        return await asyncio.gather(*(one(url) for url in urls))


def fetch_parse(urls: Sequence[str], concurrency: int, validators_out: Path | None) -> dict[str, Any]:
    started = time.perf_counter()
    responses = asyncio.run(get_all(urls, concurrency))
    fetched = time.perf_counter()
    entries = 0
    for response in responses:
        entries += len(feedparser.parse(response.content).entries)
    parsed = time.perf_counter()
    if validators_out is not None:
        validators = {str(r.url): (r.headers.get("ETag"), r.headers.get("Last-Modified")) for r in responses}
        validators_out.write_text(json.dumps(validators), encoding="utf-8")
    return {
        "seconds": parsed - started, "fetch_s": fetched - started, "parse_s": parsed - fetched,
        "entries": entries, "bytes": sum(len(r.content) for r in responses),
        "statuses": dict(Counter(r.status_code for r in responses)),
    }


def conditional(validators: Validators, concurrency: int, repeat: int) -> dict[str, Any]:
    urls = list(validators)
    runs = []
    statuses: Counter[int] = Counter()
    for _ in range(repeat):
        started = time.perf_counter()
        responses = asyncio.run(get_all(urls, concurrency, validators))
        runs.append(time.perf_counter() - started)
        statuses.update(r.status_code for r in responses)
    return {"runs": runs, "statuses": dict(statuses)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure a floor and print one JSON line.")
    parser.add_argument("kind", choices=["fetch-parse", "conditional"])
    parser.add_argument("--urls", type=Path, help="JSON list of feed URLs (fetch-parse)")
    parser.add_argument("--validators", type=Path, required=True, help="written by fetch-parse, read by conditional")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    if args.kind == "fetch-parse":
        urls = json.loads(args.urls.read_text(encoding="utf-8"))
        result = fetch_parse(urls, args.concurrency, args.validators)
    else:
        raw = json.loads(args.validators.read_text(encoding="utf-8"))
        result = conditional({url: (e, m) for url, (e, m) in raw.items()}, args.concurrency, args.repeat)
    print(json.dumps(result), flush=True)


def run_floor(kind: str, **options: Any) -> Mapping[str, Any]:
    """Run one floor in a fresh process; options become --flags."""
    command = [sys.executable, "-m", "bench.floors", kind]
    command += [f"--{key.replace('_', '-')}={value}" for key, value in options.items()]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"floor {kind} failed:\n{done.stderr[-2000:]}")
    result: Mapping[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
