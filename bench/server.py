"""The benchmark's feed server: many `tests.feedserver.FeedServer`s in one
separate process, driven over a pipe.

Why a process of its own: a server in the client's process shares the GIL with
the client under measurement. Why several servers: real feeds live on many
sites, and the daemon limits fetches per host (`fetch.per_host_concurrency`);
each FeedServer listens on its own port of 127.0.0.1, which the fetcher treats
as its own host (`host:port`). Feed i is served by server i % hosts.

Feeds carry generated press items (see `bench.corpus`): `items` per feed,
~28 KB per feed, one item in ten naming OHCHR, the UPR or the ILO. The server
honours ETag/Last-Modified with 304 (FeedServer does), can add a per-response
delay, and publishes new items on request.

Protocol: the process prints one JSON line `{"urls": [...]}` once serving,
then answers one JSON line per JSON command line on stdin:

    {"cmd": "publish", "count": 50}            -> {"published": [{url, guid, title}], "at": epoch}
    {"cmd": "publish", "count": 1, "mentions": true}
    {"cmd": "stats"}                           -> {"requests": n, "connections": n}
    {"cmd": "fetches"}                         -> {"histogram": {"<requests>": feeds}, "not_once": [...],
                                                   "max_in_flight_per_host": n}  (since the last reset)
    {"cmd": "reset"}                           -> {"ok": true}   (zero the counters)

EOF on stdin stops it. `ServerProcess` is the client side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from bench.corpus import ROOT, PressItem, PressWriter, feed_document, feed_items
from bench.processes import end
from tests.feedserver import FeedServer


class FeedFarm:
    """The feeds and the servers that serve them (lives in the server process)."""

    def __init__(self, feeds: int, hosts: int, items: int, seed: int, *, gzip: bool, delay: float) -> None:
        self.servers = [FeedServer("127.0.0.1") for _ in range(max(1, min(hosts, feeds)))]
        self.writer = PressWriter(seed)
        self.fresh = PressWriter(seed + 1)  # published items: independent of the initial corpus
        self.encoding = "gzip" if gzip else None
        self.items: list[list[PressItem]] = []
        self.urls: list[str] = []
        for number in range(feeds):
            self.items.append(feed_items(self.writer, number, items))
            server = self._server(number)
            self.urls.append(server.add_feed(self._path(number), self._document(number), encoding=self.encoding,
                                             delay=delay))
        self.next_serial = feeds * items
        self.cursor = 0

    def _server(self, number: int) -> FeedServer:
        return self.servers[number % len(self.servers)]

    @staticmethod
    def _path(number: int) -> str:
        return f"/feeds/{number}.xml"

    def _document(self, number: int) -> bytes:
        return feed_document(number, self.items[number])

    def start(self) -> None:
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def publish(self, count: int, mentions: bool | None = None) -> list[dict[str, str]]:
        """A new item at the top of `count` feeds (the oldest drops off), rotating through the feeds."""
        published = []
        for _ in range(count):
            number = self.cursor % len(self.items)
            self.cursor += 1
            item = self.fresh.item(self.next_serial, mentions=mentions, published=datetime.now(UTC))
            self.next_serial += 1
            self.items[number] = [item, *self.items[number][:-1]]
            self._server(number).publish(self._path(number), self._document(number))
            published.append({"url": self.urls[number], "guid": item.guid, "title": item.title})
        return published

    def stats(self) -> dict[str, int]:
        return {
            "requests": sum(sum(s.requests_per_connection) for s in self.servers),
            "connections": sum(s.connections for s in self.servers),
        }

    def fetches(self) -> dict[str, Any]:
        """How many times each feed was requested: a histogram, and the first feeds not requested exactly once."""
        counts = [self._server(n).requests(self._path(n)) for n in range(len(self.urls))]
        histogram = Counter(counts)
        return {
            "histogram": {str(k): v for k, v in sorted(histogram.items())},
            "not_once": [{"feed": n, "requests": c} for n, c in enumerate(counts) if c != 1][:10],
            "max_in_flight_per_host": max(s.max_in_flight for s in self.servers),
        }

    def reset(self) -> None:
        for server in self.servers:
            server.reset_stats()


def _answer(farm: FeedFarm, command: dict[str, Any]) -> dict[str, Any]:
    match command.get("cmd"):
        case "publish":
            published = farm.publish(int(command["count"]), command.get("mentions"))
            return {"published": published, "at": time.time()}
        case "stats":
            return dict(farm.stats())
        case "fetches":
            return farm.fetches()
        case "reset":
            farm.reset()
            return {"ok": True}
    return {"error": f"unknown command {command!r}"}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve generated press feeds for the benchmarks.")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50, help="ports (= hosts to the fetcher) to spread feeds over")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gzip", action="store_true", help="serve gzip to clients that accept it")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each response")
    args = parser.parse_args(argv)
    farm = FeedFarm(args.feeds, args.hosts, args.items, args.seed, gzip=args.gzip, delay=args.delay)
    farm.start()
    try:
        print(json.dumps({"urls": farm.urls}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(_answer(farm, json.loads(line))), flush=True)
    finally:
        farm.stop()


class ServerProcess:
    """Start the server process and talk to it: `with ServerProcess(feeds=1000) as server: ...`."""

    def __init__(self, *, feeds: int, hosts: int, items: int = 20, seed: int = 1, gzip: bool = False,
                 delay: float = 0.0) -> None:
        command = [sys.executable, "-m", "bench.server", f"--feeds={feeds}", f"--hosts={hosts}",
                   f"--items={items}", f"--seed={seed}", f"--delay={delay}"]
        if gzip:
            command.append("--gzip")
        self._process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, bufsize=1)
        self.urls: list[str] = self._read()["urls"]

    @property
    def pid(self) -> int:
        return self._process.pid

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"feed server exited with {self._process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self._process.stdin.flush()
        return self._read()

    def publish(self, count: int, *, mentions: bool | None = None) -> list[dict[str, str]]:
        published: list[dict[str, str]] = self.call("publish", count=count, mentions=mentions)["published"]
        return published

    def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.call("stats").items()}

    def fetches(self) -> dict[str, Any]:
        return self.call("fetches")

    def reset(self) -> None:
        self.call("reset")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        end(self._process, 10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


if __name__ == "__main__":
    main()
