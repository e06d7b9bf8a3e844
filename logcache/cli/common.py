"""What every subcommand shares: its arguments, its exit codes and its graceful stop.

Arguments that several commands take (the campaign file, `--break-lock`, `--json`, the
S3 overrides) are declared here once, so their spelling and help never drift apart.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from types import FrameType
from typing import Any


class Exit(IntEnum):
    """The exit codes of every command (README, "Exit codes")."""

    DONE = 0  # all done
    FINDINGS = 1  # the work ran and found something to fix: invalid rows, datasets not copied
    REFUSED = 2  # bad input or environment; nothing was written
    MANUAL = 3  # `run` stopped at a manual step: do it, confirm it, run again
    INTERRUPTED = 130  # stopped by Ctrl-C, SIGTERM or SIGHUP; the state is saved


SubParsers = argparse._SubParsersAction  # type: ignore[type-arg]


def add_campaign(p: argparse.ArgumentParser) -> None:
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")


def add_break_lock(p: argparse.ArgumentParser) -> None:
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")


def add_json(p: argparse.ArgumentParser, what: str = "the report") -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout (progress goes to stderr)")


def add_s3_overrides(p: argparse.ArgumentParser) -> None:
    """`--profile` and `--endpoint-url`, as in aws-cli and s5cmd: they override the
    campaign file's [s3] section for this command."""
    p.add_argument("--profile", metavar="NAME", help="the AWS profile to use (overrides [s3] profile and AWS_PROFILE)")
    p.add_argument("--endpoint-url", metavar="URL", help="the S3 endpoint (overrides [s3] endpoint_url)")


def add_names(p: argparse.ArgumentParser, flag: str, help: str) -> None:
    """A repeatable option taking one or more names (`--only a b --only c`). Written
    before the campaign it would swallow it (`--only a CAMPAIGN`); `claim_campaign`
    gives the last word back, so both orders work."""
    p.add_argument(flag, action="extend", nargs="+", metavar="NAME", help=help)
    names = p.get_default("_names") or ()
    p.set_defaults(_names=(*names, flag.lstrip("-").replace("-", "_")))


def claim_campaign(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The campaign of a command whose repeatable option took it as one more name."""
    if getattr(args, "campaign", False) is not None:
        return
    for dest in getattr(args, "_names", ()):
        values = getattr(args, dest)
        if values:
            args.campaign = Path(values.pop())
            if not values:
                parser.error(f"--{dest.replace('_', '-')} needs at least one name before the campaign")
            return
    parser.error("the following arguments are required: campaign")


def campaign_command(
    sub: SubParsers,
    name: str,
    *,
    help: str,
    description: str | None = None,
    lock: bool = True,
    json_output: str | None = None,
    s3: bool = False,
) -> argparse.ArgumentParser:
    """A subcommand over a campaign file: the campaign, and the shared options it takes
    (`--break-lock` when it takes the lock, `--json` when it reports, the S3 overrides
    when it touches S3)."""
    p = sub.add_parser(name, help=help, description=description or help)
    # Optional to argparse only so that `claim_campaign` can take it back from a
    # repeatable option; a command without it is refused all the same.
    p.add_argument("campaign", type=Path, nargs="?", help="the campaign file (campaign.toml)")
    if lock:
        add_break_lock(p)
    if json_output:
        add_json(p, json_output)
    if s3:
        add_s3_overrides(p)
    return p


def print_json(body: Any) -> None:
    json.dump(body, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def graceful_stop(say: Callable[[str], None]) -> Iterator[threading.Event]:
    """The cancel event of a long command, set by Ctrl-C, SIGTERM or SIGHUP (a dropped SSH
    session). The first signal lets the work in flight finish and the state be saved;
    a second one stops at once (KeyboardInterrupt; the state is still saved on the way
    out). The previous handlers come back on exit."""
    cancel = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        try:
            say("stopping: letting work in flight finish (Ctrl-C again to stop now)")
        except OSError:
            pass  # after SIGHUP the terminal may be gone; the stop goes on regardless

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield cancel
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
