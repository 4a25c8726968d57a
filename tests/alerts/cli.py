"""Running `monitor` in-process for alert tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from monitor import logs
from monitor.cli import main


def invoke(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    # The CLI pointed the logger at the runner's stream, closed now.
    logs.configure("WARNING", stream=sys.stderr)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def alerts_json(config: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = invoke(config, "alerts", "list", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]
