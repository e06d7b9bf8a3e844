"""Run one operator command (a hook) and follow it to its end.

The command runs through `/bin/sh` (it is the operator's own command line) under
`guard.py`, in a session and process group of its own: a cancel, a timeout, or the death
of logcache, even by SIGKILL, kills its whole group. Its output (stdout and stderr
together) streams line by line to a callback, cleaned for display, and is appended
verbatim to a log file under the campaign's `jobs/` folder. A pattern picks a value (an
image tag, a PR URL, a job id) out of the output: the last match wins, its first group
if it has one.

A failure is one line naming the hook, its exit code and the last lines it printed.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from logcache.errors import LogcacheError
from state.config import CampaignConfig

GUARD = Path(__file__).with_name("guard.py")
GRACE_S = 5.0  # between TERM and KILL when a hook is stopped
TAIL_LINES = 3  # of output in a failure's one line
_LONGEST_LINE = 64 * 1024  # a longer run without a newline is cut into lines this long
_DRAIN_S = 1.0  # reading on after the command ended, for output still in the pipe
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

LineSink = Callable[[str], None]


class HookFailed(LogcacheError):
    """An operator command exited non-zero, timed out, or printed no match for its pattern."""


@dataclass(frozen=True)
class HookRun:
    hook: str
    command: str
    exit_code: int
    value: str | None  # what the pattern matched; None without a pattern
    log_path: Path
    tail: tuple[str, ...]  # the last lines of output, cleaned


def jobs_dir(config: CampaignConfig) -> Path:
    """Where every hook's and job's output is kept."""
    return config.work_dir / "jobs"


def hook_cwd(config: CampaignConfig) -> Path:
    """Hooks run in the campaign file's folder: relative paths in a command mean what
    they mean in the campaign file."""
    return config.path.parent


def display_line(raw: bytes) -> str:
    """A line of output as a terminal would leave it: the text after the last carriage
    return (progress bars redraw with CR), without colour codes or control characters."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    text = text.rsplit("\r", 1)[-1]
    return _CONTROL.sub("", _ANSI.sub("", text)).rstrip()


def run_hook(
    hook: str,
    command: str,
    *,
    log_path: Path,
    on_line: LineSink | None = None,
    pattern: str | None = None,
    timeout_s: float | None = None,
    cancel: threading.Event | None = None,
    append: bool = True,
    cwd: Path | None = None,
) -> HookRun:
    """Run `command` to its end. Raises HookFailed (non-zero exit, timeout, no match for
    `pattern`) and KeyboardInterrupt when `cancel` is set, after its group was killed."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    matcher = re.compile(pattern) if pattern else None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    found: list[str] = []

    def line(raw: bytes) -> None:
        text = display_line(raw)
        if not text:
            return
        tail.append(text)
        if matcher is not None:
            match = matcher.search(text)
            if match is not None:
                found.append(match.group(1) if matcher.groups else match.group(0))
        if on_line is not None:
            on_line(text)

    # Unbuffered: the file is current while the hook runs, and whatever it printed before
    # logcache died is there to read back (a job id, say).
    with log_path.open("ab" if append else "wb", buffering=0) as log:
        log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {hook}: {command}\n".encode())
        proc = subprocess.Popen(
            # -I -S: the guard needs only the standard library, so it starts in a few ms.
            [sys.executable, "-I", "-S", str(GUARD), str(GRACE_S), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )
        try:
            stopped = _follow(proc, log, line, timeout_s, cancel)
        finally:
            _stop(proc)
        code = proc.wait()
        log.write(f"--- exit {code}\n".encode())
    lines = tuple(tail)
    if stopped == "cancel":
        raise KeyboardInterrupt
    where = f"(output: {log_path})"
    if stopped == "timeout":
        raise HookFailed(f"{hook} hook timed out after {timeout_s:g} s and was stopped: {_brief(lines)} {where}")
    if code != 0:
        raise HookFailed(f"{hook} hook exited with {code}: {_brief(lines)} {where}")
    if matcher is not None and not found:
        raise HookFailed(f"{hook} hook exited with 0 but printed nothing matching `{matcher.pattern}`: {_brief(lines)} {where}")
    return HookRun(hook, command, code, found[-1] if found else None, log_path, lines)


def _brief(lines: tuple[str, ...]) -> str:
    text = " | ".join(line[:200] for line in lines)
    return text or "(no output)"


def _follow(proc: subprocess.Popen[bytes], log: BinaryIO, line: Callable[[bytes], None], timeout_s: float | None, cancel: threading.Event | None) -> str:
    """Read the hook's output until it ends; "" when it did, else why it was stopped."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    ended_at: float | None = None
    pending = b""
    open_pipe = True
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if not open_pipe:
                try:
                    proc.wait(0.1)
                except subprocess.TimeoutExpired:
                    pass
            elif selector.select(0.1):
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":
                    selector.unregister(fd)
                    open_pipe = False
                elif chunk:
                    log.write(chunk)
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    for raw in complete:
                        line(raw)
                    while len(pending) > _LONGEST_LINE:
                        line(pending[:_LONGEST_LINE])
                        pending = pending[_LONGEST_LINE:]
            now = time.monotonic()
            if proc.poll() is not None:
                # A process the command left behind may hold the pipe open: read what is
                # already there, then stop waiting for an end of file.
                ended_at = ended_at or now
                if not open_pipe or now - ended_at > _DRAIN_S or not selector.select(0):
                    break
                continue
            if cancel is not None and cancel.is_set():
                return "cancel"
            if deadline is not None and now > deadline:
                return "timeout"
    if pending:
        line(pending)
    return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Tell the guard to kill the command's group (closing its stdin), then make sure."""
    if proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    if proc.stdout is not None:
        proc.stdout.close()
    try:
        proc.wait(GRACE_S + 5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
