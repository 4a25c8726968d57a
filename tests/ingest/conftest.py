"""Fixtures for the ingest tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture
def seed_path() -> Callable[[str], Path]:
    """Find a seed fixture by its number prefix ("000", "004")."""

    def find(prefix: str) -> Path:
        (path,) = sorted(SEEDS.glob(f"{prefix}_*.txt"))
        return path

    return find
