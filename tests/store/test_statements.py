"""The near-duplicate lookup counts SimHash distances in the database, exactly as
dedupe counts them in Python, on both backends."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, literal, select

from monitor.dedupe.fingerprints import NEAR_DUPLICATE_BITS, hamming
from monitor.items import Fingerprint
from monitor.store import migrations
from monitor.store._statements import Statements
from monitor.store.engine import make_engine
from monitor.store.repository import Store
from monitor.store.sqlfunctions import hamming as sql_hamming
from tests.store.test_repository import entry


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


def _fingerprint(simhash: int, n: int) -> Fingerprint:
    unsigned = simhash & ((1 << 64) - 1)
    bands = tuple((unsigned >> shift) & 0xFFFF for shift in (0, 16, 32, 48))
    return Fingerprint(f"{n:064x}", simhash, bands, 200)  # type: ignore[arg-type]


def test_the_database_counts_bits_as_python_does(engine: Engine) -> None:
    rng = random.Random(7)
    values = [0, -1, 1, -(1 << 63), (1 << 63) - 1] + [rng.getrandbits(64) - (1 << 63) for _ in range(40)]
    pairs = list(zip(values, reversed(values), strict=True)) + [(v, v ^ (1 << rng.randrange(63))) for v in values]
    with engine.connect() as conn:
        counted = [conn.execute(select(sql_hamming(literal(a), literal(b)))).scalar_one() for a, b in pairs]
    assert counted == [hamming(a, b) for a, b in pairs]


def test_a_stored_item_sharing_a_band_comes_back_only_within_the_distance(engine: Engine) -> None:
    """The lookup returns, per band it came through, each stored item within
    NEAR_DUPLICATE_BITS of a wanted simhash, and none further away, whatever its sign."""
    new = -0x1234_5678_9ABC_DEF0  # negative: the stored column is signed
    near = new ^ 0b101 << 20  # 2 bits away, in band 1: it shares bands 0, 2 and 3
    edge = new ^ 0b111 << 40  # 3 bits away, in band 2
    far = new ^ 0b1111 << 20  # 4 bits away, all in band 1: it still shares bands 0, 2, 3
    unrelated = ~new  # shares no band
    store = Store(engine)
    ids = {}
    for n, simhash in enumerate((near, edge, far, unrelated)):
        stored = replace(entry(f"g{n}", hits=False), fingerprint=_fingerprint(simhash, n))
        (outcome,) = store.ingest("https://a.example/feed", [stored])
        ids[outcome.item_id] = simhash
    sql = Statements(engine.dialect.name)
    wanted = _fingerprint(new, 99)
    pairs = [[(band, new)] for band in wanted.bands]
    with engine.connect() as conn:
        rows = conn.execute(sql.by_band, {**sql.band_pairs(pairs),
                                          "since": datetime.now(UTC) - timedelta(days=1)}).all()
    found = {(ids[row.id], row.band_no) for row in rows}
    assert found == {(near, 0), (near, 2), (near, 3), (edge, 0), (edge, 1), (edge, 3)}
    assert all(hamming(simhash, new) <= NEAR_DUPLICATE_BITS for simhash, _ in found)
