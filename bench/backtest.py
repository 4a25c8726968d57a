"""`monitor rules test` and `monitor reclassify` over many stored items, beside the
classify floor (a bare pyahocorasick pass over the same texts, one process).

    python -m bench.backtest                 # 200,000 items
    python -m bench.backtest --items 50000   # on a busy machine

The items are bulk-inserted (generated press texts, `bench.corpus`, with no hits
stored), so the run measures the commands, not the replay. Then, each a whole
process of its own: `rules test` (against empty stored hits every match counts
as gained; the first 10 per rule are printed), `reclassify` (writes every
match's hits: its write rate), and `reclassify` again (nothing changes: the pure
read-and-classify rate). Peak RSS is the largest of the command's processes
(wait4). The load average is printed beside.

The machine is shared: the floor is measured just before and just after `rules
test` and their mean is the one compared. The CPU time each takes per item
(the command's: its main process and its workers, start-up included) does not
depend on the load; it says what the rate would be on idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import ahocorasick
from sqlalchemy import insert

from bench.corpus import DEFAULT_RULES, PressWriter
from monitor.rules import load_rules
from monitor.store.engine import make_engine
from monitor.store.models import Feed, ItemText, StoredItem

DISTINCT = 20_000  # generated texts, cycled (every item keeps its own guid)
MONITOR = [sys.executable, "-m", "monitor"]


def fill(url: str, count: int) -> list[tuple[str, str]]:
    """`count` items in the database; the distinct (title, text) pairs used."""
    writer = PressWriter(seed=7)
    texts = [(p.title, p.text) for p in (writer.item(n) for n in range(min(count, DISTINCT)))]
    engine = make_engine(url)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with engine.begin() as conn:
        feed_id = conn.execute(insert(Feed).values(url="replay:bench", kind="replay", enabled=True,
                                                   consecutive_errors=0, items_seen=0, created_at=now)
                               .returning(Feed.id)).scalar_one()
    for start in range(0, count, 5_000):
        numbers = range(start, min(count, start + 5_000))
        rows = [{"feed_id": feed_id, "guid": f"bench-{n}", "title": texts[n % len(texts)][0],
                 "ingested_at": now, "language": "en", "flags": [],
                 "content_hash": f"{n:064x}", "fingerprint": n, "fp_band0": 0, "fp_band1": 0, "fp_band2": 0,
                 "fp_band3": 0, "matched": False}
                for n in numbers]
        with engine.begin() as conn:
            ids = conn.execute(insert(StoredItem).returning(StoredItem.id, sort_by_parameter_order=True),
                               rows).scalars().all()
            conn.execute(insert(ItemText), [{"item_id": item_id, "text": texts[n % len(texts)][1]}
                                            for item_id, n in zip(ids, numbers, strict=True)])
    engine.dispose()
    return texts


def floor(texts: list[tuple[str, str]], count: int) -> tuple[float, float]:
    """Items per second of a bare Aho-Corasick pass of the rule pack's terms (one
    process), and its CPU seconds per item."""
    automaton = ahocorasick.Automaton()
    for number, term in enumerate(sorted({t for r in load_rules([DEFAULT_RULES]) for t in r.terms})):
        automaton.add_word(term.replace("*", "").lower(), number)
    automaton.make_automaton()
    sample = [texts[n % len(texts)] for n in range(min(count, 50_000))]
    started, cpu = time.perf_counter(), time.process_time()
    for title, text in sample:
        for _ in automaton.iter(title.lower()):
            pass
        for _ in automaton.iter(text.lower()):
            pass
    return len(sample) / (time.perf_counter() - started), (time.process_time() - cpu) / len(sample)


def run(args: list[str]) -> tuple[float, float, str, float]:
    """(seconds, peak RSS MB, stdout, CPU seconds) of one whole command, from wait4
    (the CPU time of the process and of its workers, which it waited for)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        pid = os.posix_spawn(args[0], args, dict(os.environ), file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{' '.join(args)}: {err.read().decode()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode(), usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    options = parser.parse_args()
    count = options.items
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        config = Path(tmp) / "monitor.toml"
        config.write_text(f'state_dir = "{tmp}/state"\n[database]\nurl = "{url}"\n[rules]\npaths = ["{DEFAULT_RULES}"]\n'
                          '[log]\nlevel = "WARNING"\n', encoding="utf-8")
        base = [*MONITOR, "--config", str(config)]
        run([*base, "db", "upgrade"])
        started = time.perf_counter()
        texts = fill(url, count)
        fill_s = time.perf_counter() - started
        before, floor_cpu = floor(texts, count)
        test_s, test_mb, _, test_cpu = run([*base, "rules", "test", "--since", "3650d"])
        after, _ = floor(texts, count)
        floor_rate = (before + after) / 2
        write_s, write_mb, out, write_cpu = run([*base, "reclassify", "--json"])
        written = json.loads(out)
        again_s, again_mb, _, again_cpu = run([*base, "reclassify", "--json"])
        load = os.getloadavg()
        figures = {
            "items": count, "cores": os.cpu_count(), "load_avg": [round(x, 2) for x in load],
            "fill_items_per_s": round(count / fill_s), "floor_items_per_s": round(floor_rate),
            "floor_before_after": [round(before), round(after)], "floor_cpu_us": round(floor_cpu * 1e6, 1),
            "rules_test_items_per_s": round(count / test_s), "rules_test_vs_floor": round(count / test_s / floor_rate, 2),
            "rules_test_cpu_us": round(test_cpu / count * 1e6, 1), "rules_test_peak_rss_mb": round(test_mb),
            "reclassify_items_per_s": round(count / write_s), "reclassify_changed": written["changed"],
            "reclassify_writes_per_s": round(written["changed"] / write_s), "reclassify_cpu_us": round(
                write_cpu / count * 1e6, 1), "reclassify_peak_rss_mb": round(write_mb),
            "reclassify_again_items_per_s": round(count / again_s),
            "reclassify_again_cpu_us": round(again_cpu / count * 1e6, 1), "reclassify_again_peak_rss_mb": round(again_mb),
        }
    cores = os.cpu_count() or 1
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {cores} cores; {count:,} stored items")
    print(f"  classify floor (bare Aho-Corasick, 1 process): {floor_rate:,.0f} items/s "
          f"(before {before:,.0f}, after {after:,.0f}), {floor_cpu * 1e6:.1f} us CPU per item")
    print(f"  rules test (all cores):   {count / test_s:,.0f} items/s = {count / test_s / floor_rate:.2f}x floor "
          f"(target >= 0.4x), peak RSS {test_mb:.0f} MB")
    print(f"  reclassify (writes):      {count / write_s:,.0f} items/s, {written['changed']:,} items rewritten "
          f"= {written['changed'] / write_s:,.0f} writes/s, peak RSS {write_mb:.0f} MB")
    print(f"  reclassify (no change):   {count / again_s:,.0f} items/s, peak RSS {again_mb:.0f} MB")
    print(f"  CPU per item, start-up included (all processes; / {cores} cores = the idle-machine bound):")
    for name, cpu in (("rules test", test_cpu), ("reclassify (writes)", write_cpu), ("reclassify (no change)", again_cpu)):
        per_item = cpu / count
        print(f"    {name + ':':24}{per_item * 1e6:6.1f} us = {per_item / floor_cpu:.1f}x the floor's; "
              f"idle bound {cores / per_item:,.0f} items/s = {cores * floor_cpu / per_item:.2f}x floor")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
