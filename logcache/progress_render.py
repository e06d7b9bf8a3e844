"""Progress on a terminal for the headless CLI commands.

On a TTY one status line is redrawn in place (and log lines are printed above it); on
anything else (a pipe, a log file, CI) status lines are printed plainly, at most every
`interval_s`, so a long run leaves a readable log instead of thousands of lines.
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bar(fraction: float, width: int = 24) -> str:
    """A text bar such as `[#########...............]`; ASCII so every terminal shows it."""
    fraction = min(1.0, max(0.0, fraction))
    filled = int(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class StatusLine:
    """Where a command shows its live status and its log lines."""

    def __init__(self, stream: TextIO, interval_s: float = 5.0) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.interval_s = interval_s
        self._last_plain = float("-inf")
        self._shown = ""

    def status(self, text: str, force: bool = False) -> None:
        """Show the current status: redrawn in place on a TTY, else printed now and then."""
        if self.live:
            width = shutil.get_terminal_size((80, 24)).columns - 1
            self._shown = text[:width]
            # \r back to the start, \x1b[K clears what a longer previous line left.
            self.stream.write("\r" + self._shown + "\x1b[K")
            self.stream.flush()
            return
        now = time.monotonic()
        if force or now - self._last_plain >= self.interval_s:
            self._last_plain = now
            self.stream.write(text + "\n")
            self.stream.flush()

    def line(self, text: str) -> None:
        """Print a permanent line (above the status line on a TTY)."""
        if self.live and self._shown:
            self.stream.write("\r\x1b[K" + text + "\n" + self._shown)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Leave the last status on its own line so later output starts clean."""
        if self.live and self._shown:
            self.stream.write("\n")
            self.stream.flush()
        self._shown = ""
