"""SIGHUP and SIGTERM in the app, taken as the CLI takes them (`graceful_stop`): a dropped
SSH session or a service manager stops the app gracefully. Ctrl-C is a key in the app;
SIGTSTP, SIGCONT and SIGWINCH stay Textual's.

Python runs a signal handler in the main thread between two bytecodes, whatever the
app's loop is doing there; the handler only posts a message (thread-safe), and the app
acts on it in its own message loop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from textual.message import Message

from logcache.cli.common import leave_the_terminal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

Handler = Callable[[int, FrameType | None], object] | int | None
Previous = dict[signal.Signals, Handler]


class StopSignalled(Message):
    def __init__(self, signum: signal.Signals) -> None:
        super().__init__()
        self.signum = signum


def install(post: Callable[[Message], object]) -> Previous:
    """Handlers that post a `StopSignalled`; returns the previous ones, for `restore`.
    Nothing is installed outside the main thread (where Python allows none)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            # The terminal is gone and every write to it would fail: the screen's output
            # goes nowhere from now on, so the stop can go on.
            leave_the_terminal()
        post(StopSignalled(signal.Signals(signum)))

    return {s: signal.signal(s, handler) for s in STOP_SIGNALS}


def restore(previous: Previous) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
