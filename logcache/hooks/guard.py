"""Run one operator command in a process group of its own, and kill that whole group
when logcache cancels it or dies.

`runner.run_hook` starts this file as `python guard.py GRACE_S COMMAND` in a new session,
with stdin a pipe whose write end only logcache holds. The pipe closing (logcache stopped
the hook, or died, even by SIGKILL, which no handler in logcache could catch) makes the
guard send TERM to the command's group, then KILL after GRACE_S. A SIGTERM, SIGHUP or
SIGINT to the guard does the same. The guard exits with the command's code (128 + N when
signal N ended it).

Jobs that the command detaches on purpose (`setsid`, `nohup ... &` in a new session, a
batch scheduler) are in another group and outlive it: that is how an asynchronous
submitter leaves its job running.

Standard library only, and not imported by logcache: it is run as a script so that it
starts fast and keeps nothing of logcache's state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time


class Guard:
    def __init__(self, command: str, grace_s: float) -> None:
        self.grace_s = grace_s
        self.killer: threading.Thread | None = None
        self.lock = threading.Lock()
        # process_group=0: the command leads a group of its own, apart from the guard, so
        # the guard can kill all of it and still report the exit code.
        self.proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT, process_group=0)

    def stop(self) -> None:
        with self.lock:
            if self.killer is None:
                self.killer = threading.Thread(target=self._kill_group, daemon=True)
                self.killer.start()

    def _kill_group(self) -> None:
        group = self.proc.pid
        if not _signal_group(group, signal.SIGTERM):
            return
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline:
            if not _signal_group(group, 0):
                return
            time.sleep(0.05)
        _signal_group(group, signal.SIGKILL)

    def watch_parent(self) -> None:
        while os.read(0, 4096):
            pass
        self.stop()

    def run(self) -> int:
        threading.Thread(target=self.watch_parent, daemon=True).start()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())
        code = self.proc.wait()
        with self.lock:
            killer = self.killer
        if killer is not None:
            # What the command left in its group must go too before the guard does.
            killer.join()
        return 128 - code if code < 0 else code


def _signal_group(group: int, sig: int) -> bool:
    """Signal a process group; False once the group has no process left."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member that changed its credentials (sudo) cannot be signalled: still alive.
        return True
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: guard.py GRACE_S COMMAND", file=sys.stderr)
        return 2
    return Guard(argv[2], float(argv[1])).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
