"""Running logcache as an operator does, in a process of its own, and stopping it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


def logcache(*args: object, **kw: Any) -> subprocess.CompletedProcess[str]:
    """`python -m logcache ARGS`, its output captured; `kw` goes to `subprocess.run`
    (`env`, `input`). A child inherits this process's environment, so what a test's
    `build_world` set there (the demo's lifecycle rule) holds in it too."""
    return subprocess.run([sys.executable, "-m", "logcache", *map(str, args)], check=False, capture_output=True, text=True, timeout=300, **kw)


def results(world: Path) -> int:
    """How many result files the world's validation has written so far."""
    folder = world / "results"
    return sum(1 for _ in folder.rglob("*.parquet")) if folder.exists() else 0


def stop(proc: subprocess.Popen[str], signum: signal.Signals) -> tuple[str, str]:
    """Send `signum` and read what the process says until it ends. One that does not end
    within two minutes is killed, so that no test leaves a run behind."""
    try:
        proc.send_signal(signum)
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
