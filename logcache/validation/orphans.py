"""Pool workers die with their parent, even when it is SIGKILLed.

A spawned pool worker whose parent is gone would otherwise run on, reparented to init,
and keep writing result files. Two guards, installed by the pool's initializer:

- Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the kernel kills the worker the moment
  the thread that started it exits;
- a watchdog thread that checks every half second whether the parent pid changed
  (other platforms, and a parent that died before prctl took effect), and then ends the
  process at once with `os._exit`, so nothing more is written.

A command-backend job on this machine runs in a session of its own (so a Ctrl-C in the
operator's terminal reaches only the parent, which then stops its jobs), under a shell:
it is told the orchestrator's pid (`LOGCACHE_ORCHESTRATOR_PID`) and watches that instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1
CHECK_S = 0.5
ORCHESTRATOR_ENV = "LOGCACHE_ORCHESTRATOR_PID"


def orphan_guard(parent_pid: int) -> None:
    """Pool initializer: make this worker die with `parent_pid`."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl here: the watchdog below still ends the worker
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="orphan-watchdog", daemon=True).start()


def _watch(parent_pid: int) -> None:
    stop = threading.Event()
    while not stop.wait(CHECK_S):
        if os.getppid() != parent_pid:
            os._exit(1)


def guard_job() -> None:
    """In a command-backend job: end this process once the orchestrator that started it
    is gone (nothing to do when it was not started by one on this machine)."""
    text = os.environ.get(ORCHESTRATOR_ENV, "")
    if text.isdigit():
        threading.Thread(target=_watch_pid, args=(int(text),), name="orchestrator-watchdog", daemon=True).start()


def _watch_pid(pid: int) -> None:
    stop = threading.Event()
    while not stop.wait(CHECK_S):
        with contextlib.suppress(PermissionError):  # alive, under another user
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
