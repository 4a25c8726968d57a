"""SQL functions our statements use that a backend lacks.

`hamming(a, b)`: how many bits two 64-bit SimHash fingerprints differ in, as
`monitor.dedupe.fingerprints.hamming` counts them. Near-duplicate candidates are
filtered by it inside the database: on templated press most stored items share
a 16-bit band with some new item, and a year of data sent hundreds of thousands
of such rows a cycle to Python only to be dropped there. PostgreSQL has
`bit_count`; SQLite gets a Python function on each connection (`engine.py`),
which costs far less per row than returning the row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

_MASK64 = (1 << 64) - 1


class hamming(GenericFunction[int]):  # noqa: N801 (an SQL function's name)
    type = Integer()
    inherit_cache = True


@compiles(hamming, "postgresql")
def _hamming_postgresql(element: hamming, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"bit_count(CAST(({a}) # ({b}) AS BIT(64)))"


def _hamming_sqlite(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return None
    return ((a ^ b) & _MASK64).bit_count()


def register_sqlite(dbapi_connection: Any) -> None:
    """Give an SQLite connection the functions above."""
    dbapi_connection.create_function("hamming", 2, _hamming_sqlite, deterministic=True)
