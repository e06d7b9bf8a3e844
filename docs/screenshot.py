"""Regenerate docs/screenshot.svg: the app mid-campaign on a demo world with faults.

    python docs/screenshot.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from logcache.demo import build_world
from state.model import StepName
from tui.app import LogcacheApp

STEPS = (StepName.PICK_TRANSACTION, StepName.DISCOVER, StepName.COPY, StepName.REGISTRY_EXPORT)


async def main() -> None:
    os.environ.setdefault("LOGCACHE_OPERATOR", "alice@bastion-2")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "refresh-2026-11"
        build_world(str(root), seed=7, scale="tiny", faults={"missing-copy": 2})
        app = LogcacheApp(root / "campaign.toml")
        async with app.run_test(size=(120, 34)) as pilot:
            for step in (*STEPS, StepName.VALIDATE):
                app.main.checklist.select(step)
                app.run_step_named(step)
                while app.busy:
                    await pilot.pause(0.1)
                await pilot.pause(0.3)
            # The validation found the two lost copies: the screenshot shows the re-copy offer
            # over the Validators pane.
            app.main.action_tab("validators")
            await pilot.pause(0.5)
            app.save_screenshot(str(Path(__file__).with_name("screenshot.svg")))


if __name__ == "__main__":
    asyncio.run(main())
