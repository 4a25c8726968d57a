"""Publication -> webhook received, when the publisher's hub pushes (WebSub), through
the real daemon (`monitor run`).

    .venv/bin/python -m bench.websub                  # 200 feeds, 40 pushes
    .venv/bin/python -m bench.websub --feeds 1000 --samples 60 --keep
    .venv/bin/python -m bench.websub --polled 1000    # and 1,000 feeds without a hub, polled every 20 s

Every feed of a local feed server (tests.feedserver, in this process) names the
local hub (tests.websub_hub.LocalHub, in this process) and a `rel="self"` topic.
The daemon runs on its defaults (parse workers, ticks, `schedule.tick_s` = 15 s,
`alerts.dispatch_tick_s` = 5 s) with `web.public_url` pointing at a reverse proxy
(tests.websub_hub.ReverseProxy) in front of its dashboard, every rule routed to a
webhook that a receiver here timestamps. After the first cycle has discovered
every hub and the hub has verified every subscription, items naming the ILO are
published one at a time at random moments on random feeds: the feed server gets
the new document (so a poll would find it too), then the hub delivers it, signed,
to the subscriber. Latency = webhook receipt - the moment the hub began to
deliver. Target: p95 <= 2 s. With `--polled N`, N more feeds name no hub and are
polled every 20 s (`schedule.latency_target_s`), so pushes arrive while polling
cycles keep the daemon busy.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import ROOT, PressWriter, feed_document, feed_items
from bench.latency import percentile, stop_daemon, webhook_receiver
from bench.workdir import write_config, write_opml
from tests.feedserver import FeedServer
from tests.websub_hub import LocalHub, ReverseProxy

TARGET_P95_S = 2.0


def hub_document(number: int, items: list, hub: str, topic: str) -> bytes:
    links = f'<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{topic}"/>'.encode()
    return (feed_document(number, items)
            .replace(b'<rss version="2.0">', b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">')
            .replace(b"<channel>", b"<channel>" + links, 1))


def wait_for_log(log: Path, pattern: str, daemon: subprocess.Popen[bytes], timeout: float) -> re.Match[str] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and daemon.poll() is None:
        if log.exists() and (match := re.search(pattern, log.read_text(errors="replace"))):
            return match
        time.sleep(0.1)
    return None


def run(feeds: int, samples: int, workdir: Path, polled: int = 0, seed: int = 5) -> dict[str, object]:
    writer = PressWriter(seed)
    rng = random.Random(seed)
    with FeedServer() as server, LocalHub() as hub, ReverseProxy() as proxy, webhook_receiver() as (hook, rx):
        items = {n: feed_items(writer, n, 5) for n in range(feeds)}
        urls = [server.url(f"/feed/{n}.xml") for n in range(feeds)]
        topics = [server.url(f"/topic/{n}") for n in range(feeds)]
        for n in range(feeds):
            server.add_feed(f"/feed/{n}.xml", hub_document(n, items[n], hub.url, topics[n]))
        for n in range(feeds, feeds + polled):  # no hub: polled at the latency target
            urls.append(server.add_feed(f"/feed/{n}.xml", feed_document(n, feed_items(writer, n, 5))))
        config = write_config(
            workdir, database=workdir / "monitor.db", opml=write_opml(workdir / "feeds.opml", urls),
            schedule={"latency_target_s": 20, "min_interval_s": 20} if polled else None,
            tables={"web": {"port": 0, "public_url": proxy.url},
                    "channels.bench": {"type": "webhook", "url": hook, "timeout_s": 5}},
            routes=[{"rules": ["*"], "channel": "bench"}],
        )
        log = workdir / "daemon.log"
        with log.open("ab") as stderr:
            daemon = subprocess.Popen([str(Path(sys.executable).with_name("monitor")), "--config", str(config), "run"],
                                      cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            listening = wait_for_log(log, r"event=web_listening .*url=(\S+)", daemon, 60)
            if listening is None:
                return {"problem": "the daemon did not start (see its log)", "log": str(log)}
            proxy.forward_to(listening.group(1))
            started = time.monotonic()
            try:
                hub.wait(lambda h: sum(1 for t in topics if h.subscribed(t)) == feeds, timeout=120)
            except AssertionError:
                return {"problem": "not every subscription was verified", "log": str(log)}
            subscribed_s = time.monotonic() - started
            time.sleep(2)  # let the first cycle's alerts go out before measuring

            cycles = log.read_text(errors="replace").count("event=cycle ")
            published: dict[str, float] = {}
            statuses: list[int] = []
            threads = []
            for sample in range(samples):
                n = rng.randrange(feeds)
                item = writer.item(10_000_000 + sample, mentions=True, published=datetime.now(UTC))
                items[n] = [item, *items[n][:4]]
                body = hub_document(n, items[n], hub.url, topics[n])
                server.publish(f"/feed/{n}.xml", body)
                published[item.guid] = time.time()
                thread = threading.Thread(target=lambda t=topics[n], b=body: statuses.extend(hub.publish(t, b)))
                thread.start()
                threads.append(thread)
                time.sleep(rng.uniform(0.05, 0.5))
            for thread in threads:
                thread.join(30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not published.keys() <= rx.arrivals.keys():
                time.sleep(0.1)
            latencies = sorted(rx.arrivals[g] - at for g, at in published.items() if g in rx.arrivals)
            cycles = log.read_text(errors="replace").count("event=cycle ") - cycles  # while publishing
        finally:
            stop_daemon(daemon)
    if not latencies:
        return {"problem": "no alert arrived", "statuses": statuses, "log": str(log)}
    p95 = percentile(latencies, 0.95)
    return {
        "figure": "websub_latency_p95", "value": round(p95, 3), "unit": "s", "target": TARGET_P95_S,
        "met": p95 <= TARGET_P95_S, "feeds": feeds, "published": samples, "delivered": len(latencies),
        "p50_s": round(percentile(latencies, 0.5), 3), "max_s": round(latencies[-1], 3),
        "hub_answers": sorted(set(statuses)), "subscribed_in_s": round(subscribed_s, 1), "polled_feeds": polled,
        "cycles_during": cycles,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--polled", type=int, default=0, help="feeds without a hub, polled every 20 s")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (config, log, database)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-websub-"))
    try:
        print(json.dumps(run(args.feeds, args.samples, workdir, args.polled)))
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
