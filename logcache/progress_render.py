"""Progress on a terminal for the headless CLI commands.

On a TTY one status line is redrawn in place by Rich (and log lines are printed above
it); on anything else (a pipe, a log file, CI) status lines are printed plainly, at most every
`interval_s`, so a long run leaves a readable log instead of thousands of lines.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.live import Live
    from rich.text import Text


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bar(fraction: float, width: int = 24) -> str:
    """A text bar such as `[#########...............]`; ASCII so every terminal shows it."""
    fraction = min(1.0, max(0.0, fraction))
    filled = int(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _folding(text: str) -> Text:
    """Text that a narrow terminal folds onto the next line instead of cutting."""
    from rich.text import Text

    return Text(text, overflow="fold")


class StatusLine:
    """Where a command shows its live status, its log lines and its result.

    On a TTY the status is drawn by Rich below the log lines and redrawn in place; a
    status longer than the terminal folds onto a second line instead of being cut. `quiet`
    (`-q`) shows neither status nor log lines, only results; `verbose` (`-v`) asks views
    for the lines they would skip on a TTY.
    """

    def __init__(self, stream: TextIO, interval_s: float = 5.0, *, quiet: bool = False, verbose: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.verbose = verbose
        self.live = stream.isatty() and not quiet
        self.interval_s = interval_s
        self._last_plain = float("-inf")
        self._shown = ""
        self._rich: Live | None = None
        self._gone = False  # the terminal hung up

    def _drawn(self) -> Live:
        # Rich is imported only when a terminal shows progress: commands that print a few
        # lines to a pipe (status, a job's parcel) start faster without it.
        from rich.console import Console
        from rich.live import Live

        if self._rich is None:
            console = Console(file=self.stream, highlight=False, markup=False, emoji=False, soft_wrap=False)
            # No refresh thread and no capture of stdout: the status is drawn when it changes.
            self._rich = Live(console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False, transient=True)
            self._rich.start()
        return self._rich

    def status(self, text: str, force: bool = False) -> None:
        """Show the current status: redrawn in place on a TTY, else printed now and then."""
        if self.quiet or self._gone:
            return
        if self.live:
            self._shown = text
            self._guarded(lambda: self._drawn().update(_folding(text), refresh=True))
            return
        now = time.monotonic()
        if force or now - self._last_plain >= self.interval_s:
            self._last_plain = now
            self._guarded(lambda: self._write(text))

    def line(self, text: str) -> None:
        """Print a log line (above the status on a TTY); nothing when quiet."""
        if not self.quiet:
            self._print(text)

    def result(self, text: str) -> None:
        """Print a line of the command's result, shown even when quiet."""
        self._print(text)

    def _print(self, text: str) -> None:
        if self._rich is not None:
            rich = self._rich
            self._guarded(lambda: rich.console.print(_folding(text)))
        elif not self._gone:
            self._guarded(lambda: self._write(text))

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _guarded(self, draw: Callable[[], None]) -> None:
        """Draw, unless the terminal hung up (EIO: a dropped SSH session). Then the work
        goes on to a clean stop with nothing more shown, instead of failing on output."""
        if self._gone:
            return
        try:
            draw()
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            self._gone = True
            self._rich = None

    def close(self) -> None:
        """Leave the last status as a line of its own so later output starts clean."""
        if self._rich is not None:
            rich = self._rich
            self._guarded(rich.stop)
            self._rich = None
            if self._shown:
                self._print(self._shown)
        self._shown = ""
