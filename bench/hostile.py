"""Peak memory of `monitor poll --once` on hostile feeds (issue 11, item 1).

    .venv/bin/python -m bench.hostile [entity|entries|all]

Each document is served by `tests.feedserver.FeedServer`; the poll runs as a
subprocess under `/usr/bin/time -v` (its "Maximum resident set size" is the
largest of the poll and its parse workers), on a fresh SQLite file. Printed per
document: the exit code, the peak, the rows stored and the longest stored text.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.feedserver import FeedServer, entity_expansion_xml, feed_xml, many_entries_xml

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = {
    "entity": lambda: entity_expansion_xml(),
    "entries": lambda: many_entries_xml(50_000),
    "hits": lambda: feed_xml([{"title": "ILO", "guid": "hits", "description": "The ILO said. " * 350_000}]),
}


def measure(name: str, body: bytes) -> dict[str, object]:
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.add_feed(f"/{name}.xml", body)
        database = Path(tmp) / "monitor.db"
        config = Path(tmp) / "monitor.toml"
        config.write_text(
            f"[database]\nurl = {json.dumps(f'sqlite:///{database}')}\n"
            f"[rules]\npaths = [{json.dumps(str(ROOT / 'config' / 'rules'))}]\n"
            '[log]\nlevel = "WARNING"\n'
            '[fetch]\nallowed_networks = ["127.0.0.1/32"]\n'
            "[schedule]\nparse_workers = 1\n"
            f"[[feeds]]\nurl = {json.dumps(url)}\n",
            encoding="utf-8",
        )
        run = subprocess.run(
            ["/usr/bin/time", "-v", str(ROOT / ".venv" / "bin" / "monitor"), "--config", str(config),
             "poll", "--once", "--json"],
            capture_output=True, text=True, timeout=900,
        )
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr)
        with sqlite3.connect(database) as conn:
            rows, longest = conn.execute("SELECT count(*), coalesce(max(length(text)), 0) FROM items").fetchone()
            hits = conn.execute("SELECT count(*) FROM hits").fetchone()[0]
        polls = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        return {
            "document": name, "bytes": len(body), "exit": run.returncode,
            "peak_mib": round(int(peak.group(1)) / 1024, 1) if peak else None,
            "items_stored": rows, "longest_text": longest, "hits": hits,
            "error": polls[0]["error"] if polls else run.stderr.strip().splitlines()[-1:],
        }


def main(argv: list[str]) -> None:
    names = list(DOCUMENTS) if not argv or argv == ["all"] else argv
    for name in names:
        print(json.dumps(measure(name, DOCUMENTS[name]())), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
