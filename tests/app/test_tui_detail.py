"""The detail screen of an invalid pair shows the sample datoms that differ, as
`logcache show` does: here on a cache corrupted by the demo's `corrupt-cache` fault."""

from __future__ import annotations

import json
import time
from pathlib import Path

from textual.widgets import DataTable

from logcache.cli import main
from logcache.demo import build_world
from tui.app import LogcacheApp
from tui.detail_screen import DetailScreen


async def test_the_detail_screen_shows_the_sample_datoms_of_a_corrupt_cache(tmp_path: Path) -> None:
    root = tmp_path / "w"
    build_world(str(root), seed=11, scale="tiny", faults={"corrupt-cache": 1})
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0 and main(["copy", str(campaign)]) == 0
    assert main(["validate", str(campaign)]) == 1
    (fault,) = [f for f in json.loads((root / "truth.json").read_text())["faults"] if f["kind"] == "corrupt-cache"]
    shard, kind = fault["entry"].split("/")
    pair = f"{shard}/{'log-validation' if kind == 'log' else 'materialized-entities-validation'}"
    altered = fault["effect"]["altered_rows"][0]["after"]
    app = LogcacheApp(campaign)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        await pilot.pause(0.5)
        table = app.screen.query_one("#failed-table", DataTable)
        keys = [k.value for k in table.rows]
        assert f"pair:{pair}" in keys, keys
        table.focus()
        table.move_cursor(row=keys.index(f"pair:{pair}"))
        await pilot.press("enter")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not isinstance(app.screen, DetailScreen) or "loading" in app.screen.text):
            await pilot.pause(0.1)
        assert isinstance(app.screen, DetailScreen)
        text = app.screen.text
        assert f"{pair}: INVALID (mismatch)" in text
        assert f"e={altered['e']}" in text and f"v={altered['v']!r} t={altered['t']}" in text, text
        await pilot.press("escape", "q")
