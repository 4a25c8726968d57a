"""Dependencies point down the path (DESIGN.md): storage knows nothing of
fetching, the pipeline or alerts; the stage contract imports no stage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"


def imports_of(path: Path) -> set[str]:
    """Every `monitor…` module a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "monitor" or name.startswith("monitor.")}


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py")) if folder else [PACKAGE / f"{folder}.py"]


FORBIDDEN = [
    ("store", ("monitor.pipeline", "monitor.ingest", "monitor.alerts", "monitor.web", "monitor.rules",
               "monitor.app", "monitor.daemon", "monitor.cli", "monitor.websub")),
    ("websub", ("monitor.pipeline", "monitor.web", "monitor.alerts", "monitor.app", "monitor.daemon",
                "monitor.cli")),
    ("ingest", ("monitor.store", "monitor.pipeline", "monitor.alerts", "monitor.web", "monitor.app")),
    ("rules", ("monitor.store", "monitor.pipeline", "monitor.ingest", "monitor.alerts", "monitor.web")),
    ("dedupe", ("monitor.store", "monitor.pipeline", "monitor.ingest", "monitor.alerts", "monitor.web")),
    ("present", ("monitor.store", "monitor.pipeline", "monitor.ingest", "monitor.alerts", "monitor.web")),
]


@pytest.mark.parametrize(("folder", "forbidden"), FORBIDDEN, ids=[f for f, _ in FORBIDDEN])
def test_a_layer_imports_nothing_above_it(folder: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in modules_under(folder)
        for name in imports_of(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)  # monitor.web is not monitor.websub
    }
    assert not wrong


@pytest.mark.parametrize("contract", ["items.py", "states.py", "errors.py"])
def test_the_contract_imports_no_stage(contract: str) -> None:
    assert imports_of(PACKAGE / contract) <= {"monitor.states"}
