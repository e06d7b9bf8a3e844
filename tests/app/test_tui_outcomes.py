"""The Results pane shows the third outcome: a pair whose check the storage stopped is
"not checked", neither valid nor invalid, and the summary counts it apart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.widgets import DataTable

from logcache.cli import main as cli
from logcache.demo import build_world
from logcache.stores import open_results
from logcache.validation import latest_results, read_results, write_result
from state.config import load_config
from tui.app import LogcacheApp


async def test_a_not_checked_pair_is_shown_as_not_checked(tmp_path: Path) -> None:
    build_world(str(tmp_path / "w"), seed=7, scale="tiny")
    campaign = tmp_path / "w" / "campaign.toml"
    for command in ("discover", "copy", "validate"):
        assert cli([command, str(campaign)]) == 0
    results = open_results(load_config(campaign))
    first = min(latest_results(read_results(results)).values(), key=lambda r: (r.dataset, r.validation))
    # A later attempt that a cut connection stopped, as validation writes it.
    write_result(results, replace(first, attempt=first.attempt + 1, is_valid=False, error_kind="not-checked", error="reading ... was cut short on all 3 attempts"))
    app = LogcacheApp(campaign)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause(0.5)
        table = app.screen.query_one("#results-table", DataTable)
        outcomes = [str(table.get_cell(k, "valid")) for k in table.rows]
        assert outcomes.count("not checked") == 1 and outcomes.count("valid") == 35, outcomes
        summary = str(app.screen.query_one("#results-summary").render())
        assert "35/36 valid so far, 1 not checked" in summary, summary
        await pilot.press("q")
