"""Running `monitor` in-process for alert tests."""

from __future__ import annotations

import asyncio
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from monitor import logs
from monitor.alerts.channels import build_senders
from monitor.alerts.dispatcher import Dispatcher, PassReport
from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.store.alerts import Outbox


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


def send_at(config: Path, when: datetime) -> PassReport:
    """One dispatch pass as `alerts send` makes it, with the dispatcher's clock at `when`."""
    app = App(load_config(config))
    senders = build_senders(app.config.settings.channels, app.config.base_dir)

    async def run() -> PassReport:
        db = ThreadPoolExecutor(max_workers=1)
        dispatcher = Dispatcher(Outbox(app.engine), senders, app.config.settings.alerts, owner="test", db=db,
                                clock=lambda: when)
        try:
            return await dispatcher.run()
        finally:
            await dispatcher.aclose()
            db.shutdown()

    try:
        return asyncio.run(run())
    finally:
        app.engine.dispose()
