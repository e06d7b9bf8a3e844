"""The app shows what the operator's hooks print, and the machines parcels hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.hooks import submitter_world
from textual.widgets import Static

from logcache.runbook.events import HookOutput
from logcache.validation.jobs import ParcelRecord, default_book
from state.config import load_config
from tui.app import LogcacheApp


async def test_hook_output_in_the_log_and_machine_hours_in_the_validators_pane(tmp_path: Path) -> None:
    campaign = submitter_world(tmp_path)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    default_book(load_config(campaign)).put(ParcelRecord("0", 0, "run-1", job_id="77", up_at=an_hour_ago))
    app = LogcacheApp(campaign)
    async with app.run_test(size=(160, 40)) as pilot:
        # What a step's worker hands the app's sink while a hook runs.
        app.emit(HookOutput("image", "pushed registry.example/etl:2026-11-26"))
        await pilot.press("6")
        await pilot.pause(0.5)
        shown = "\n".join(line.text for line in app.screen.query_one("#log-view").lines)  # type: ignore[attr-defined]
        assert "[image] pushed registry.example/etl:2026-11-26" in shown
        await pilot.press("2")
        await pilot.pause(0.5)
        summary = str(app.screen.query_one("#parcels-summary", Static).render())
        assert "machines held by 1 parcels" in summary
        # 40 nodes for about an hour, at 0.4 per node-hour.
        hours = float(summary.split(" machine-h")[0].rsplit(", ", 1)[1])
        assert 39.5 < hours < 41, summary
        assert "cost 16." in summary, summary
        await pilot.press("q")
