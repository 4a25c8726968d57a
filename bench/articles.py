"""Whole articles, measured (figures in bench/README.md, "Whole articles").

    python -m bench.articles throughput [--pages 600]
    python -m bench.articles cycle [--feeds 100] [--entries 20] [--changed 50]

throughput: bare extraction (trafilatura alone, the same pages, one process per
core) beside the daemon's article step (`prepare_articles` in the daemon's
worker pool: link lists dropped, extraction, normalize, language, classify,
fingerprint); the target is the step at >= 0.8x the bare rate.

cycle: summary-only feeds of `entries` entries each on a local site (its own
process), every entry's article a page of tests/articles; a cold `poll --once`
(every article fetched), then an incremental one with `changed` feeds carrying
one new entry. Peak PSS is sampled over this process and its descendants
(the parse workers, the fork server) every 50 ms. The load average is printed
beside every figure: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.corpus import DEFAULT_RULES
from bench.procmem import descendants, memory
from monitor.items import ArticlePage, Item
from tests.articles.site import pages

CHUNK = 25


def _bare(chunk: list[tuple[bytes, str]]) -> int:
    import trafilatura

    return sum(1 for html, url in chunk if trafilatura.bare_extraction(
        html, url=url, include_comments=False, include_tables=False, with_metadata=True) is not None)


def throughput(count: int) -> dict[str, object]:
    from monitor.pipeline.workers import make_pool, prepare_articles

    site = list(pages())
    chosen = [site[i % len(site)] for i in range(count)]
    cores = os.cpu_count() or 1
    chunks = [[(p.html, f"https://mfa.example{p.path}?n={i}") for i, p in enumerate(chosen[s:s + CHUNK], s)]
              for s in range(0, count, CHUNK)]
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_bare, chunks[:cores]))  # warm: imports
        started = time.perf_counter()
        list(pool.map(_bare, chunks))
        bare = count / (time.perf_counter() - started)
    pool2 = make_pool([DEFAULT_RULES], cores)
    try:
        tasks = []
        for chunk in chunks:
            items = [Item(source="bench", guid=url, title="Headline", text="Summary…", url=url) for _, url in chunk]
            tasks.append((items, [ArticlePage(url, html, "utf-8") for html, url in chunk]))
        list(pool2.submit(prepare_articles, *tasks[0]).result() for _ in range(cores))  # warm
        started = time.perf_counter()
        futures = [pool2.submit(prepare_articles, items, pages_) for items, pages_ in tasks]
        prepared = sum(len(f.result()) for f in futures)
        step = prepared / (time.perf_counter() - started)
    finally:
        pool2.shutdown()
    return {"pages": count, "cores": cores, "bare_per_s": round(bare, 1), "step_per_s": round(step, 1),
            "ratio": round(step / bare, 2), "load": os.getloadavg()}


def _serve(port: int, feeds: int, entries: int, changed: int, ready: multiprocessing.synchronize.Event) -> None:
    from tests.feedserver import FeedServer, feed_xml

    site = list(pages())
    server = FeedServer(port=port)
    base = server.url("").rstrip("/")
    for f in range(feeds):
        items = []
        extra = 1 if f < changed else 0
        for e in range(entries + extra):
            page = site[(f * entries + e) % len(site)]
            path = f"/a/{f}/{e}.html"
            server.add_feed(path, page.html, content_type="text/html; charset=utf-8")
            items.append({"title": page.body.title, "link": base + path, "guid": f"{f}-{e}",
                          "description": page.body.summary})
        server.add_feed(f"/feed/{f}.xml", feed_xml(items[::-1][:entries] if extra else items))
    server.start()
    ready.set()
    threading.Event().wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PeakPss:
    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            for pid in [os.getpid(), *descendants()]:
                try:
                    total += memory(pid).pss_kb
                except OSError:
                    pass
            self.peak_kb = max(self.peak_kb, total)

    def __enter__(self) -> _PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cycle(feeds: int, entries: int, changed: int) -> dict[str, object]:
    from monitor.app import App, poll_once
    from monitor.config import load_config

    port = _free_port()
    context = multiprocessing.get_context("spawn")
    results: dict[str, object] = {"feeds": feeds, "entries": entries, "changed": changed}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "monitor.toml"
        lines = [f'[database]\nurl = "sqlite:///{tmp}/bench.db"', f'[rules]\npaths = ["{DEFAULT_RULES}"]',
                 '[log]\nlevel = "ERROR"', '[fetch]\nallowed_networks = ["127.0.0.1/32"]\nper_host_concurrency = 8']
        lines += [f'[[feeds]]\nurl = "http://127.0.0.1:{port}/feed/{f}.xml"' for f in range(feeds)]
        config.write_text("\n\n".join(lines) + "\n")
        for name, changing in (("cold", 0), ("incremental", changed)):
            ready = context.Event()
            server = context.Process(target=_serve, args=(port, feeds, entries, changing, ready), daemon=True)
            server.start()
            ready.wait(600)
            app = App(load_config(config))
            load = os.getloadavg()
            with _PeakPss() as peak:
                started = time.perf_counter()
                report = poll_once(app, all_feeds=True)
                seconds = time.perf_counter() - started
            app.engine.dispose()
            server.kill()
            server.join()
            results[name] = {"seconds": round(seconds, 1), "new_items": report.new_items,
                             "articles_per_s": round(report.new_items / seconds, 1),
                             "peak_pss_mb": round(peak.peak_kb / 1024, 1), "load_before": load,
                             "load_after": os.getloadavg()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["throughput", "cycle"])
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--changed", type=int, default=50)
    args = parser.parse_args()
    if args.part == "throughput":
        print(json.dumps(throughput(args.pages)))
    else:
        print(json.dumps(cycle(args.feeds, args.entries, args.changed)))


if __name__ == "__main__":
    main()
