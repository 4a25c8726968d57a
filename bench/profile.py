"""Where the time goes: profiles of the benchmarked paths.

    python -m bench.profile cold       # py-spy over the daemon (all threads, worker processes too)
    python -m bench.profile warm       # the same, three all-304 cycles
    python -m bench.profile replay     # cProfile of monitor.replay load + run
    python -m bench.profile classify   # cProfile of Matcher.scan, default pack + 1,000 terms

`cold`/`warm` need py-spy (`.venv/bin/pip install py-spy`; not a project
dependency): the daemon's time is spread over an event loop, a database
thread and worker processes, which cProfile cannot see at once. The summary
gives, per process and thread, the share of busy samples (idle waits left
out) spent inside each function (inclusive) and in it alone (self).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from bench.corpus import DEFAULT_RULES, PressWriter
from bench.driver import DaemonProcess
from bench.server import ServerProcess
from bench.workdir import write_config, write_extra_rules, write_fixtures, write_opml

# Leaf frames of a thread that is waiting, not working.
IDLE = re.compile(r"^(select|poll|wait|_worker|Condition\.wait|.*Selector\.select|_recv|Queue\.get|accept) \(")
_SITE = re.compile(r" \(/.*?/(?:site-packages|python3\.\d+)/")
_LINE = re.compile(r":\d+\)$")


def summarize(raw: Path, top: int = 25) -> str:
    """Inclusive and self shares per (process, thread) from py-spy's raw (collapsed) output."""
    busy: Counter[tuple[str, str]] = Counter()
    inclusive: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    own: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit():
            continue
        # py-spy nests a child's stacks under its parents: "process A;process B;thread (n);frames..."
        last = max((i for i, f in enumerate(frames) if f.startswith("process ")), default=0)
        process = re.sub(r"^process (\d+):", r"[\1] ", frames[last]).replace('"', "")[:70]
        rest = frames[last + 1 :]
        at = next((i for i, f in enumerate(rest) if f.startswith("thread")), -1)
        thread = re.sub(r"\s*\(\d+\)", "", rest[at]) if at >= 0 else ""
        functions = [_LINE.sub(")", _SITE.sub(" (", f)) for f in rest[at + 1 :]]
        if not functions or IDLE.match(functions[-1]):
            continue
        key, samples = (process, thread), int(count)
        busy[key] += samples
        for function in dict.fromkeys(functions):
            inclusive[key][function] += samples
        own[key][functions[-1]] += samples
    total = sum(busy.values()) or 1
    out = []
    for key, samples in busy.most_common():
        if samples < total * 0.02:
            continue
        out.append(f"\n=== {key[0]} | {key[1]}: {samples / total:.0%} of all busy samples")
        out.append("  inclusive:")
        out += [f"    {n / samples:6.1%}  {f}" for f, n in inclusive[key].most_common(top)]
        out.append("  self:")
        out += [f"    {n / samples:6.1%}  {f}" for f, n in own[key].most_common(12)]
    return "\n".join(out)


def profile_cycles(kind: str, feeds: int, hosts: int, out: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        sys.exit("py-spy not found: .venv/bin/pip install py-spy")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, \
            ServerProcess(feeds=feeds, hosts=hosts) as server:
        work = Path(tmp)
        config = write_config(work, database=work / "profile.db", opml=write_opml(work / "feeds.opml", server.urls))
        with DaemonProcess(config, work / "daemon.log") as daemon:
            if kind == "warm":
                daemon.cycle()
            record = subprocess.Popen(
                [spy, "record", "--pid", str(daemon.ready["pid"]), "--subprocesses", "--threads", "--rate", "200",
                 "--format", "raw", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.5)  # let py-spy attach
            for _ in range(1 if kind == "cold" else 3):
                answer = daemon.cycle()
                print(f"{kind} cycle: {answer['seconds']:.2f}s (slowed by sampling) {answer['results']}",
                      file=sys.stderr)
            record.send_signal(signal.SIGINT)
            record.wait()
    print(summarize(out))


def profile_in_process(kind: str, items: int, out: Path) -> None:
    from monitor.app import App
    from monitor.config import load_config
    from monitor.items import Item
    from monitor.normalize import normalize
    from monitor.pipeline import replay
    from monitor.rules import compile_rules, load_rules

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        work = Path(tmp)
        profiler = cProfile.Profile()
        if kind == "replay":
            fixtures = write_fixtures(work, items)
            app = App(load_config(write_config(work, database=work / "replay.db", log_level="WARNING")))
            app.upgrade()
            pipeline = app.pipeline()
            profiler.enable()
            loaded = replay.load(replay.fixture_paths([str(fixtures)]))
            list(replay.run(pipeline, loaded.items, dry_run=False))
            profiler.disable()
            app.engine.dispose()
        else:
            extra, _ = write_extra_rules(work)
            matcher = compile_rules(load_rules([DEFAULT_RULES, extra]))
            writer = PressWriter(seed=5)
            scanned = [normalize(Item(source="bench", guid=p.guid, title=p.title, text=p.html))
                       for p in (writer.item(serial) for serial in range(items))]
            for item in scanned[:200]:
                matcher.scan(item)  # warm up caches outside the profile
            profiler.enable()
            for item in scanned:
                matcher.scan(item)
            profiler.disable()
    profiler.dump_stats(str(out))
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["cold", "warm", "replay", "classify"])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--items", type=int, default=3000, help="fixtures (replay) or items (classify)")
    parser.add_argument("--out", type=Path, help="keep the raw profile here")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.gettempdir()) / f"press-monitor-profile-{args.kind}.out"
    if args.kind in ("cold", "warm"):
        profile_cycles(args.kind, args.feeds, args.hosts, out)
    else:
        profile_in_process(args.kind, args.items, out)
    print(f"\nraw profile: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
