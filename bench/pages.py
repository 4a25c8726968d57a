"""Listing pages: which HTML parser, and what reading a page costs.

    python -m bench.pages

Parses the test site's listing pages (tests/ingest/site/), and one long
listing built from them (500 teasers amid the same menus), with each candidate
parser, then runs `monitor.ingest.listing` (lxml) end to end. Figures are
milliseconds per page, best of 5 runs, with the load average beside them:
compare the ratios, not the absolute numbers, on a shared machine.
Candidates that are not installed are skipped (selectolax, bs4 are not
dependencies; `pip install selectolax beautifulsoup4` to compare).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

SITE = Path(__file__).resolve().parent.parent / "tests" / "ingest" / "site"


def pages() -> dict[str, bytes]:
    semantic = (SITE / "press-semantic.html").read_bytes()
    start = semantic.index(b'<article class="teaser">')
    end = semantic.index(b'</div>\n  <nav class="pagination"')
    teaser = semantic[start:end]
    long = semantic[:start] + b"".join(
        teaser.replace(b"/2024/03/", f"/2024/{n}/".encode()) for n in range(100)) + semantic[end:]
    return {"semantic (6 links)": semantic, "div soup (4 links)": (SITE / "press-divsoup.html").read_bytes(),
            "long listing (500 links)": long}


def best_ms(fn: Callable[[], object], runs: int = 5, inner: int = 20) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - started) / inner)
    return min(times) * 1000


def candidates() -> dict[str, Callable[[bytes], object]]:
    found: dict[str, Callable[[bytes], object]] = {}
    import lxml.html

    found["lxml (parse + all links)"] = lambda b: lxml.html.document_fromstring(b).xpath("//a[@href]")
    try:
        from selectolax.lexbor import LexborHTMLParser

        found["selectolax lexbor (parse + all links)"] = lambda b: LexborHTMLParser(b).css("a[href]")
    except ImportError:
        pass
    try:
        from bs4 import BeautifulSoup

        found["bs4 html.parser (parse + all links)"] = lambda b: BeautifulSoup(b, "html.parser").select("a[href]")
        found["bs4 lxml (parse + all links)"] = lambda b: BeautifulSoup(b, "lxml").select("a[href]")
    except ImportError:
        pass
    return found


def main() -> None:
    from monitor.ingest.listing import parse_listing

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}, {os.cpu_count()} cores")
    docs = pages()
    for page, body in docs.items():
        print(f"\n{page}: {len(body) / 1024:.0f} KiB")
        floor = None
        for name, parse in candidates().items():
            ms = best_ms(lambda: parse(body))
            floor = floor or ms
            print(f"  {name:<42} {ms:8.2f} ms  {ms / floor:5.1f}x lxml")
        ms = best_ms(lambda: parse_listing(body, {"content-type": "text/html"}, source="s", url="https://x.example/p/"))
        print(f"  {'monitor.ingest.listing.parse_listing':<42} {ms:8.2f} ms  {ms / floor:5.1f}x lxml")


if __name__ == "__main__":
    main()
