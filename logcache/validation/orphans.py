"""Pool workers die with their parent, even when it is SIGKILLed.

A spawned pool worker whose parent is gone would otherwise run on, reparented to init,
and keep writing result files. Two guards, installed by the pool's initializer:

- Linux's `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the kernel kills the worker the moment
  the thread that started it exits;
- a watchdog thread that checks every half second whether the parent pid changed
  (other platforms, and a parent that died before prctl took effect), and then ends the
  process at once with `os._exit`, so nothing more is written.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1
CHECK_S = 0.5


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
