"""Issue 21: one journal for every front end. A campaign driven only through the CLI
leaves its steps in `events.jsonl`: `logcache log` lists them and the app's Log pane
shows them; the app journals none of the runbook's lines a second time."""

from __future__ import annotations

from pathlib import Path

from support.processes import logcache

from logcache.demo import build_world
from logcache.runbook import journal
from tui.app import LogcacheApp
from tui.widgets.log_pane import LogPane

STEPS = ["pick-transaction: done", "discover: started", "discover: done", "copy: started", "copy: done", "registry-export: done", "build-image: done",
         "validate: started", "validate: done", "aggregate: done"]


async def test_a_campaign_driven_by_the_cli_is_in_logcache_log_and_the_apps_log_pane(tmp_path: Path) -> None:
    build_world(str(tmp_path / "w"), seed=5, scale="tiny")
    campaign = tmp_path / "w" / "campaign.toml"
    assert logcache("run", campaign).returncode == 3
    assert logcache("step", "done", campaign, "build-image", "--note", "quay-1").returncode == 0
    assert logcache("run", campaign).returncode == 3
    printed = logcache("log", campaign, "-n", "0")
    assert printed.returncode == 0
    for line in STEPS:
        assert line in printed.stdout, (line, printed.stdout)
    assert "waiting at merge-pr" in printed.stdout
    written = [e.text for e in journal.recent(tmp_path / "w", 0)]
    assert written.count("validate: started") == 1

    app = LogcacheApp(campaign)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")  # the Log pane
        await pilot.pause(0.3)
        shown = "\n".join(line.text for line in app.screen.query_one("#log-view", LogPane).lines)
        for line in STEPS:
            assert line in shown, (line, shown)
        await pilot.press("q")
    # The app wrote its own line (it opened the campaign), none of the runbook's again.
    after = [e.text for e in journal.recent(tmp_path / "w", 0)]
    assert after[: len(written)] == written and all(text.startswith("opened ") for text in after[len(written):])
