"""Helpers shared by the tests/test_hooks_*.py modules: a minimal campaign file."""

from __future__ import annotations

import os
import time
from pathlib import Path


def write_campaign(folder: Path, extra: str = "", catalog: str = 'url = "catalog"', registry: str = "") -> Path:
    path = folder / "campaign.toml"
    path.write_text(
        f"""
[campaign]
name = "hooks"
[source]
url = "ephemeral"
[destination]
url = "permanent"
[logs]
url = "logs"
[catalog]
{catalog}
[registry]
path = "registry/LogCacheEntries.scala"
{registry}
{extra}
""",
        encoding="utf-8",
    )
    return path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead: it only waits for its parent to read its exit code.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False
