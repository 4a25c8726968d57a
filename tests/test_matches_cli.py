"""`monitor matches`: the stored matches as text, JSON lines and CSV, with the
filters of the dashboard; the CSV read back with the csv module, as a
spreadsheet would, and checked for formula injection."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, update

from monitor import logs
from monitor.cli import main
from monitor.dedupe import fingerprint
from monitor.export import CSV_COLUMNS
from monitor.items import Item, Prepared
from monitor.rules import compile_rules, load_rules
from monitor.store.engine import make_engine
from monitor.store.feeds import FeedStore, ListedFeed
from monitor.store.models import StoredItem
from monitor.store.queries import DashboardQueries
from monitor.store.repository import Store
from tests.conftest import RULES, SEEDS

FEED = "https://wire.example/feed.xml"
FORMULAS = ["=HYPERLINK(\"https://evil.example\",\"click\") OHCHR", "+1+1 OHCHR", "-2+3 OHCHR", "@SUM(A1) OHCHR",
            "\tTabbed OHCHR", "\rReturn OHCHR"]


def run(config: Path, *args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    logs.configure("WARNING", stream=sys.stderr)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout_bytes, result.stderr


def store(engine: Engine, *items: Item) -> None:
    matcher = compile_rules(load_rules([RULES]))
    Store(engine).ingest(FEED, [Prepared(i, matcher.scan(i), fingerprint(i), None, ()) for i in items])


@pytest.fixture
def filled(config_file: Path, db_url: str) -> Engine:
    assert run(config_file, "replay", str(SEEDS))[0] == 0
    engine = make_engine(db_url)
    FeedStore(engine).sync([ListedFeed(FEED, "Wire service", "test")])
    store(engine, *(Item(source=FEED, guid=f"f{i}", title=title, url=f"https://wire.example/{i}",
                         text=f"Story {i} about the OHCHR.") for i, title in enumerate(FORMULAS)))
    return engine


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_has_one_row_per_match_and_no_formula(config_file: Path, filled: Engine) -> None:
    code, out, err = run(config_file, "matches", "--csv")
    assert code == 0, err
    assert not out.startswith(b"\xef\xbb\xbf")
    rows = csv_rows(out)
    code, lines, _ = run(config_file, "matches", "--json")
    matches = [json.loads(line) for line in lines.splitlines()]
    assert len(rows) == len(matches) == 8  # two seeds matched, six wire stories
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r["id"]) for r in rows] == [m["id"] for m in matches]
    for cell in (c for r in rows for c in r.values()):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    headlines = {r["headline"] for r in rows}
    for title in FORMULAS:
        assert "'" + title in headlines  # neutralised, not mangled: the text is all there
    seed = next(r for r in rows if r["source"] == "BelTA")
    assert seed["rules"] == "ilo; ohchr; upr"
    assert "upr: Universal Periodic Review" in seed["hits"].split("; ")


def test_csv_bom_and_json_lines(config_file: Path, filled: Engine) -> None:
    code, out, _ = run(config_file, "matches", "--csv", "--bom")
    assert code == 0 and out.startswith(b"\xef\xbb\xbf")
    assert csv.DictReader(io.StringIO(out.decode("utf-8-sig"), newline="")).fieldnames == list(CSV_COLUMNS)
    code, out, _ = run(config_file, "matches", "--json", "--rule", "upr")
    (upr,) = [json.loads(line) for line in out.splitlines()]
    assert upr["source"] == "BelTA" and "upr" in upr["rules"]
    assert {"headline", "link", "published_at", "stored_at", "hits", "story", "marks"} <= upr.keys()
    assert upr["marks"] == {"not_relevant": False, "labelled_at": None}
    assert upr["story"]["sources"][0]["name"] == "BelTA"


def test_filters(config_file: Path, filled: Engine) -> None:
    queries = DashboardQueries(filled)
    wire = [m for m in queries.all_matches() if m.source.feed_url == FEED]
    queries.mark_not_relevant(wire[0].id)
    with filled.begin() as conn:  # one story stored ten days ago
        conn.execute(update(StoredItem).where(StoredItem.id == wire[1].id)
                     .values(ingested_at=datetime.now(UTC) - timedelta(days=10)))

    def ids(*args: str) -> set[int]:
        code, out, err = run(config_file, "matches", "--json", *args)
        assert code == 0, err
        return {json.loads(line)["id"] for line in out.splitlines()}

    everything = ids()
    assert len(everything) == 8
    assert ids("--relevant-only") == everything - {wire[0].id}
    assert ids("--source", FEED) == ids("--source", "wire service") == {m.id for m in wire}
    old = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    assert ids("--since", old, "--until", old) == {wire[1].id}
    assert wire[1].id not in ids("--since", datetime.now(UTC).date().isoformat())
    code, _, err = run(config_file, "matches", "--source", "no such feed")
    assert code == 2 and "no feed 'no such feed'" in err
    code, _, err = run(config_file, "matches", "--since", "2024-02-01", "--until", "2024-01-01")
    assert code == 2 and "after" in err


def test_text_listing_and_usage_errors(config_file: Path, filled: Engine) -> None:
    code, out, _ = run(config_file, "matches", "--rule", "upr")
    text = out.decode()
    assert code == 0 and "BelTA" in text and "Universal Periodic Review" in text
    assert run(config_file, "matches", "--rule", "nosuchrule")[1].decode().strip() == "no matches for this filter"
    assert run(config_file, "matches", "--json", "--csv")[0] == 2
    assert run(config_file, "matches", "--bom")[0] == 2
