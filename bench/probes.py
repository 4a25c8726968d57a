"""In-process measurements, each run in a fresh process: `python -m bench.probes classify|replay`.

* classify: the compiled matcher (`Matcher.scan`) of the default pack plus
  1,000 extra terms over N generated, normalized items (with the language the
  pipeline's language step gives them, timed apart), against a bare
  pyahocorasick scan of the same texts for the same terms (lower-cased text,
  `Automaton.iter`, every match consumed). Best of `repeat` runs each,
  alternating, so a noisy moment hurts both sides.
* classify-mixed: the same with the six-language pack plus 1,000 extra terms in
  all six languages over a mixed corpus (`bench.multilingual`: a third Arabic
  or Chinese), items carrying the language the pipeline's language step gives
  them; the language step itself (`detect_language`) is timed on its own, with
  its accuracy on the corpus, as is what the detector and the Chinese table add
  to a fresh process's RSS.
* breakdown: the CPU of each step of a cold poll, per feed, one at a time
  (the floor's feedparser.parse, parse_feed, normalize, scan, fingerprints,
  pickling the worker's result, Store.ingest into a fresh SQLite file).
* replay: N distinct .txt fixtures through `monitor.app.load_fixtures` and
  `monitor.app.replay` into a fresh, migrated SQLite file, as `monitor replay`
  does.

Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ahocorasick
import feedparser

from bench.corpus import DEFAULT_RULES, ROOT, PressWriter, feed_document, feed_items, rules_toml
from bench.multilingual import MixedWriter, mixed_extra_terms
from bench.procmem import memory
from bench.workdir import write_config, write_extra_rules, write_fixtures
from monitor import app as use
from monitor.app import App
from monitor.config import load_config
from monitor.dedupe import canonical_url, fingerprints
from monitor.ingest import parse_feed
from monitor.items import Item
from monitor.language import detect_language
from monitor.normalize import normalize
from monitor.pipeline.polling import FLUSH_EVERY
from monitor.rules import compile_rules, load_rules
from monitor.store.feeds import FeedState, FeedStore, ListedFeed, Success


def _best(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def classify(count: int, extra: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        extra_path, _ = write_extra_rules(Path(tmp), extra)
        ruleset = load_rules([DEFAULT_RULES, extra_path])
    matcher = compile_rules(ruleset)
    terms = sorted({t for rule in ruleset.rules for t in rule.terms})

    writer = PressWriter(seed=5)
    raw = [
        Item(source="bench:classify", guid=p.guid, title=p.title, text=p.html, url=f"https://press.example/{p.guid}")
        for p in (writer.item(serial) for serial in range(count))
    ]
    started = time.perf_counter()
    items = [normalize(item) for item in raw]
    normalize_s = time.perf_counter() - started
    started = time.perf_counter()  # the pipeline's language step, as the scan finds it done
    items = [item.replace(language=detect_language(item.title, item.text)) for item in items]
    detect_s = time.perf_counter() - started

    pack = compile_rules(load_rules([DEFAULT_RULES]))
    pack_s = _best(repeat, lambda: [pack.scan(item) for item in items])

    scan_s, floor_s, floor_matches = _scan_against_floor(terms, matcher, items, repeat)
    hits = [len(matcher.scan(item)) for item in items]
    return {
        "items": count, "terms": len(terms), "scan_s": scan_s, "floor_s": floor_s, "normalize_s": normalize_s,
        "detect_s": detect_s, "hits": sum(hits), "floor_matches": floor_matches,
        "matched_items": sum(map(bool, hits)), "pack_only_s": pack_s,
    }


def _scan_against_floor(
    terms: Sequence[str], matcher: Any, items: Sequence[Item], repeat: int
) -> tuple[float, float, int]:
    """Best-of-`repeat` seconds of `Matcher.scan` and of a bare pyahocorasick pass
    (lower-cased title and text, every match consumed) over `items`, alternating,
    and how many matches the bare pass found."""
    automaton = ahocorasick.Automaton()
    for number, term in enumerate(terms):
        automaton.add_word(term.replace("*", "").lower(), number)
    automaton.make_automaton()

    def floor() -> int:
        found = 0
        for item in items:
            for _ in automaton.iter(item.title.lower()):
                found += 1
            for _ in automaton.iter(item.text.lower()):
                found += 1
        return found

    floor_s = scan_s = float("inf")
    for _ in range(repeat):  # alternate, best of each
        floor_s = min(floor_s, _best(1, floor))
        scan_s = min(scan_s, _best(1, lambda: sum(len(matcher.scan(item)) for item in items)))
    return scan_s, floor_s, floor()


def classify_mixed(count: int, extra: int, repeat: int) -> dict[str, Any]:
    before = memory().rss_kb
    detect_language("warm", "the model up")  # loads fastText's model
    detector_kb = memory().rss_kb - before
    started = time.perf_counter()
    compile_rules(load_rules([DEFAULT_RULES])).scan(Item(source="b", guid="g", title="", text="國際勞工組織"))
    chinese_kb, chinese_s = memory().rss_kb - before - detector_kb, time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="bench-classify-mixed-") as tmp:
        extra_path = Path(tmp) / "extra.toml"
        extra_path.write_text(rules_toml(mixed_extra_terms(extra)), encoding="utf-8")
        ruleset = load_rules([DEFAULT_RULES, extra_path])
    matcher = compile_rules(ruleset)
    terms = sorted({t for rule in ruleset.rules for t in rule.terms})

    writer = MixedWriter(seed=13)
    generated = [writer.item(serial) for serial in range(count)]
    items = [normalize(Item(source="bench:mixed", guid=m.guid, title=m.title, text=m.text)) for m in generated]
    started = time.perf_counter()
    languages = [detect_language(item.title, item.text) for item in items]
    detect_s = time.perf_counter() - started
    items = [item.replace(language=language) for item, language in zip(items, languages, strict=True)]
    by_language: dict[str, list[int]] = {}
    for m, language in zip(generated, languages, strict=True):
        by_language.setdefault(m.language, [0, 0])[0] += language == m.language
        by_language[m.language][1] += 1

    scan_s, floor_s, _ = _scan_against_floor(terms, matcher, items, repeat)
    hits = [matcher.scan(item) for item in items]
    pack = compile_rules(load_rules([DEFAULT_RULES]))
    pack_hits = [{hit.rule for hit in pack.scan(item)} for item in items]
    return {
        "items": count, "terms": len(terms), "scan_s": scan_s, "floor_s": floor_s, "detect_s": detect_s,
        "detected": {language: right / total for language, (right, total) in sorted(by_language.items())},
        "hits": sum(map(len, hits)), "matched_items": sum(map(bool, hits)),
        "pack_matched": sum(map(bool, pack_hits)), "mentions": sum(m.mentions for m in generated),
        "pack_right": sum(bool(found) == m.mentions for found, m in zip(pack_hits, generated, strict=True)),
        "arabic_chinese": sum(m.language in ("ar", "zh") for m in generated),
        "detector_rss_kb": detector_kb, "chinese_table_rss_kb": chinese_kb, "chinese_table_s": chinese_s,
    }


def replay_fixtures(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        directory = Path(tmp)
        fixtures = write_fixtures(directory, count)
        config = write_config(directory, database=directory / "replay.db", log_level="WARNING")
        app = App(load_config(config))
        pipeline = app.open_pipeline(dry_run=False)  # as `monitor replay` does

        started = time.perf_counter()
        loaded = use.load_fixtures(use.fixture_paths([str(fixtures)]))
        load_s = time.perf_counter() - started
        results = list(use.replay(app, pipeline, loaded, dry_run=False))
        total_s = time.perf_counter() - started
        app.engine.dispose()
    return {
        "files": loaded.files, "items": len(results), "errors": len(loaded.errors),
        "new": sum(1 for r in results if r.outcome.status == "new"),
        "matched": sum(1 for r in results if r.hits),
        "load_s": load_s, "run_s": total_s - load_s, "seconds": total_s,
    }


class Clock:
    """Seconds spent per named step, summed: `with clock("parse"): ...`."""

    def __init__(self, steps: Sequence[str]) -> None:
        self.seconds = dict.fromkeys(steps, 0.0)

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[step] += time.perf_counter() - started


def breakdown(feeds: int) -> dict[str, Any]:
    """CPU per feed of each step of a cold poll, one step at a time, one process:
    where the cold cycle's work goes, independent of how it is scheduled."""
    writer = PressWriter(seed=9)
    documents = [feed_document(number, feed_items(writer, number, 20)) for number in range(feeds)]
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    clock = Clock(["feedparser.parse (floor)", "parse_feed", "normalize", "Matcher.scan", "fingerprints",
                   "canonical_url", "Pipeline.prepare (all four)", "pickle round trip", "Store.ingest",
                   "FeedStore.claim_due", "FeedStore.record_many", "FeedStore.record_success"])
    with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as tmp:
        config = write_config(Path(tmp), database=Path(tmp) / "breakdown.db", log_level="WARNING")
        app = App(load_config(config))
        app.upgrade()
        matcher, store, pipeline = app.matcher, app.store(), app.pipeline()
        for number, body in enumerate(documents):
            source = f"http://127.0.0.1/feeds/{number}.xml"
            with clock("feedparser.parse (floor)"):
                feedparser.parse(body)
            with clock("parse_feed"):
                parsed = parse_feed(body, headers, source=source)
            with clock("normalize"):
                items = [normalize(i) for i in parsed.items]
            with clock("Matcher.scan"):
                for item in items:
                    matcher.scan(item)
            with clock("fingerprints"):
                fingerprints(items)  # a batch, as Pipeline.prepare does
            with clock("canonical_url"):
                for item in items:
                    canonical_url(item.url)
            with clock("Pipeline.prepare (all four)"):
                prepared = pipeline.prepare(parsed.items)
            with clock("pickle round trip"):
                pickle.loads(pickle.dumps(prepared))
            with clock("Store.ingest"):
                store.ingest(source, prepared)
        _feed_bookkeeping(app, feeds, clock)
        app.engine.dispose()
    return {"feeds": feeds, "ms_per_feed": {step: s * 1000 / feeds for step, s in clock.seconds.items()}}


def _feed_bookkeeping(app: App, feeds: int, clock: Clock) -> None:
    """What every poll costs the database even on a 304: its share of a claim, and of
    recording it: `record_many` in batches as the poller writes them, and for
    comparison `record_success` (one transaction per feed)."""
    store = FeedStore(app.engine)
    store.sync([ListedFeed(f"http://127.0.0.1/bench/{n}.xml", None, "bench") for n in range(feeds)])
    now = datetime.now(UTC)
    claimed: list[FeedState] = []
    while True:
        with clock("FeedStore.claim_due"):
            batch = store.claim_due("bench", timedelta(minutes=5), 64)
        if not batch:
            break
        claimed += batch
    for start in range(0, len(claimed), FLUSH_EVERY):
        batch = [Success(f.id, now, now + timedelta(minutes=10), 600, '"abc"', None)
                 for f in claimed[start:start + FLUSH_EVERY]]
        with clock("FeedStore.record_many"):
            store.record_many("bench", batch)
    store.make_all_due()
    for feed in store.claim_due("bench", timedelta(minutes=5), len(claimed)):
        with clock("FeedStore.record_success"):
            store.record_success(feed.id, "bench", now=now, next_poll_at=now + timedelta(minutes=10),
                                 interval_s=600, etag='"abc"', last_modified=None)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one in-process measurement; print one JSON line.")
    parser.add_argument("kind", choices=["classify", "classify-mixed", "replay", "breakdown"])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--extra-terms", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    if args.kind == "classify":
        result = classify(args.items, args.extra_terms, args.repeat)
    elif args.kind == "classify-mixed":
        result = classify_mixed(args.items, args.extra_terms, args.repeat)
    elif args.kind == "replay":
        result = replay_fixtures(args.items)
    else:
        result = breakdown(args.items)
    print(json.dumps(result), flush=True)


def run_probe(kind: str, **options: Any) -> Mapping[str, Any]:
    """Run one probe in a fresh process; options become --flags."""
    command = [sys.executable, "-m", "bench.probes", kind]
    command += [f"--{key.replace('_', '-')}={value}" for key, value in options.items()]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"probe {kind} failed:\n{done.stderr[-2000:]}")
    result: Mapping[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
