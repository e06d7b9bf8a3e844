"""What every subcommand shares: its arguments, its exit codes and its graceful stop.

Arguments that several commands take (the campaign file, `--break-lock`, `--json`, the
S3 overrides) are declared here once, so their spelling and help never drift apart.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from enum import IntEnum
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from logcache.campaign import Campaign, open_campaign
from logcache.progress_render import StatusLine
from state.config import CampaignConfig, parse_size


class Exit(IntEnum):
    """The exit codes of every command (README, "Exit codes")."""

    DONE = 0  # all done
    FINDINGS = 1  # the work ran and found something to fix: invalid rows, datasets not copied
    REFUSED = 2  # bad input or environment; nothing was written
    MANUAL = 3  # `run` stopped at a manual step: do it, confirm it, run again
    INTERNAL = 70  # a bug in logcache (sysexits' EX_SOFTWARE), never a finding
    INTERRUPTED = 130  # stopped by Ctrl-C, SIGTERM or SIGHUP; the state is saved


SubParsers = argparse._SubParsersAction  # type: ignore[type-arg]

_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")
_UNKNOWN = re.compile(r"unrecognized arguments: (.*)$")


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line on stderr (exit 2) that names the closest
    command or option to a typo, instead of the usage and the list of every name."""

    def error(self, message: str) -> NoReturn:
        hint = self._hint(message)
        if m := _CHOICE.search(message):
            message = f"{message[: m.start()]}invalid choice: {m.group(1)!r}"
        self.exit(Exit.REFUSED, f"{self.prog}: {message}; {hint or f'see `{self.prog} --help`'}\n")

    def _hint(self, message: str) -> str:
        if m := _CHOICE.search(message):
            return _closest(m.group(1), re.findall(r"'([^']*)'", m.group(2)))
        if m := _UNKNOWN.search(message):
            # The top-level parser reports a subcommand's unknown option too: any parser's
            # option may be the one meant.
            options = sorted({o for p in _parsers(self) for o in p._option_string_actions if o.startswith("--")})
            for word in m.group(1).split():
                if word.startswith("--") and (hint := _closest(word.split("=")[0], options)):
                    return hint
        return ""


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def _closest(word: str, names: list[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


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
    after = getattr(args, "_after_campaign", None)
    if after is not None and getattr(args, after[0], None) is not None:
        # The one word given went to the positional after the campaign.
        dest, metavar, example = after
        parser.error(f"give the {metavar} after the campaign: {parser.prog} {getattr(args, dest)} {metavar}, {example}")
    for dest in getattr(args, "_names", ()):
        values = getattr(args, dest)
        if values:
            args.campaign = Path(values.pop())
            if not values:
                parser.error(f"--{dest.replace('_', '-')} needs at least one name before the campaign")
            return
    parser.error("the following arguments are required: campaign")


def with_overrides(args: argparse.Namespace, config: CampaignConfig) -> CampaignConfig:
    """The config with this command's `--profile` and `--endpoint-url` over [s3], and its
    `--worker-memory` over [validation]."""
    changes = {k: v for k in ("profile", "endpoint_url") if (v := getattr(args, k, None)) is not None}
    if changes:
        config = replace(config, s3=replace(config.s3, **changes))
    memory = getattr(args, "worker_memory", None)
    return config if memory is None else replace(config, validation=replace(config.validation, worker_memory=memory))


def add_worker_memory(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--worker-memory",
        type=_size,
        metavar="SIZE",
        help="memory budget of one validation worker, e.g. 4GiB; a shard that would not fit is checked in partitions "
        "(overrides [validation] worker_memory; default: half this machine's memory shared by its workers)",
    )


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write e.g. 4GiB, 512MiB or a number of bytes") from None


def open_for(args: argparse.Namespace, notice: Callable[[str], None] | None = print, *, write: bool = True) -> AbstractContextManager[Campaign]:
    """The command's campaign, locked (unless `write=False`), with its overrides."""
    return open_campaign(
        args.campaign, write=write, break_lock=getattr(args, "break_lock", False), notice=notice, adjust=lambda config: with_overrides(args, config)
    )


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
    add_verbosity(p, default=argparse.SUPPRESS)
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


def add_verbosity(p: argparse.ArgumentParser, default: object = False) -> None:
    """`-q` and `-v`: on the top-level parser (`logcache -q copy C`) and on each command
    (`logcache copy C -q`); a command's own default does not undo the top level's."""
    how = p.add_mutually_exclusive_group()
    how.add_argument("-q", "--quiet", action="store_true", default=default, help="print only results and errors: no progress, no per-item lines")
    how.add_argument("-v", "--verbose", action="store_true", default=default, help="print every per-item line, and the traceback of an internal error")


def status_line(args: argparse.Namespace) -> StatusLine:
    """Where the command shows progress: stderr when stdout carries JSON."""
    stream = sys.stderr if getattr(args, "json", False) else sys.stdout
    return StatusLine(stream, quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False))


# The version of every `--json` document's layout (README, "The CLI"); raised when a
# field changes meaning or goes away, not when one is added.
JSON_SCHEMA = 1


def print_json(body: dict[str, Any], *, indent: int | None = 2) -> None:
    """A command's JSON report on stdout, with its `schema` version first; `indent=None`
    for one document a line (`log --json`)."""
    json.dump({"schema": JSON_SCHEMA, **body}, sys.stdout, indent=indent, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def leave_the_terminal() -> None:
    """After a hangup the terminal is gone and every write to it fails (EIO), which would
    turn a clean stop into an error; output meant for it goes nowhere instead. Output to
    a pipe or a file still goes there."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            if os.isatty(fd):
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@contextmanager
def graceful_stop(say: Callable[[str], None]) -> Iterator[threading.Event]:
    """The cancel event of a long command, set by Ctrl-C, SIGTERM or SIGHUP (a dropped SSH
    session). The first signal lets the work in flight finish and the state be saved;
    a second one stops at once (KeyboardInterrupt; the state is still saved on the way
    out). The previous handlers come back on exit."""
    cancel = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            leave_the_terminal()
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
