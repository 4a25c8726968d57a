"""Article extraction candidates measured on the same pages (`tests.articles.site`):
which mentions a reader of the extracted text finds (precision and recall of
(page, rule) pairs against what the body alone holds) and pages per second on one core.

    python -m bench.extractors

The page furniture names OHCHR, the UPR and the ILO on every page, so a
candidate that keeps menus, sidebars or footers loses precision; one that drops
body paragraphs loses recall. The choice and its figures: bench/README.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from bench.probes import DEFAULT_RULES
from monitor.items import Item
from monitor.normalize import normalize
from monitor.rules import compile_rules, load_rules
from tests.articles.site import LAYOUTS, Page, pages

Extract = Callable[[bytes, str], str]


def _trafilatura(precision: bool) -> Extract:
    import trafilatura

    def extract(html: bytes, url: str) -> str:
        return trafilatura.extract(html, url=url, favor_precision=precision, include_comments=False,
                                   include_tables=False) or ""
    return extract


def _readability(html: bytes, url: str) -> str:
    import lxml.html
    from readability import Document

    summary = Document(html, url=url).summary(html_partial=True)
    return lxml.html.fromstring(summary).text_content() if summary.strip() else ""


def _justext(html: bytes, url: str) -> str:
    import justext

    stop = justext.get_stoplist("English") | justext.get_stoplist("French") | justext.get_stoplist("Spanish")
    return "\n".join(p.text for p in justext.justext(html, frozenset(stop)) if not p.is_boilerplate)


def _ours(html: bytes, url: str) -> str:
    from monitor.ingest.article import extract_article

    article = extract_article(html, url)
    return article.text if article else ""


def _whole_page(html: bytes, url: str) -> str:
    import lxml.html

    return lxml.html.fromstring(html).text_content()


CANDIDATES: dict[str, Extract] = {
    "whole page (no extraction)": _whole_page,
    "trafilatura": _trafilatura(False),
    "trafilatura favor_precision": _trafilatura(True),
    "readability-lxml": _readability,
    "jusText (en+fr+es stoplists)": _justext,
}


def score(extract: Extract, site: Sequence[Page], rounds: int = 3) -> dict[str, object]:
    matcher = compile_rules(load_rules([DEFAULT_RULES]))
    tp = fp = fn = 0
    per_layout: dict[str, list[int]] = {layout: [0, 0, 0] for layout in LAYOUTS}
    for page in site:
        text = extract(page.html, "https://mfa.example" + page.path)
        item = normalize(Item(source="s", guid=page.path, title=page.body.title, text=text))
        found = {h.rule for h in matcher.scan(item)}
        counts = per_layout[page.layout]
        for n, value in enumerate((len(found & page.body.rules), len(found - page.body.rules),
                                   len(page.body.rules - found))):
            counts[n] += value
        tp, fp, fn = tp + len(found & page.body.rules), fp + len(found - page.body.rules), \
            fn + len(page.body.rules - found)
    started = time.perf_counter()
    for _ in range(rounds):
        for page in site:
            extract(page.html, "https://mfa.example" + page.path)
    seconds = time.perf_counter() - started
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "pages_per_s": rounds * len(site) / seconds,
        "by_layout": {layout: f"tp={c[0]} fp={c[1]} fn={c[2]}" for layout, c in per_layout.items()},
    }


def main() -> None:
    site = list(pages())
    print(f"pages={len(site)} layouts={','.join(LAYOUTS)} load={os.getloadavg()[0]:.2f}")
    candidates = dict(CANDIDATES)
    try:
        import monitor.ingest.article  # noqa: F401
        candidates["monitor.ingest.article (chosen)"] = _ours
    except ImportError:
        pass
    print("| candidate | precision | recall | pages/s (1 core) | per layout |")
    print("| --- | --- | --- | --- | --- |")
    for name, extract in candidates.items():
        r = score(extract, site)
        print(f"| {name} | {r['precision']:.2f} | {r['recall']:.2f} | {r['pages_per_s']:.0f} | "
              f"{'; '.join(f'{k}: {v}' for k, v in r['by_layout'].items())} |")
    print(f"load_after={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
