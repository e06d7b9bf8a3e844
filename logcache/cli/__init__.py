"""`logcache`: one command with a subcommand per runbook step.

Each subcommand lives in its own module with a `register(subparsers)` function that
adds its parser and sets `func` (taking the parsed args, returning an exit code). The
arguments several commands share, the exit codes and the graceful stop are in
`common.py`. Errors caused by input or environment print one line and exit 2; Ctrl-C,
SIGTERM and SIGHUP exit 130 with the state saved.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

import logcache
from logcache.cli.common import Exit, Parser, add_verbosity, claim_campaign
from logcache.errors import LogcacheError, describe

COMMANDS_GROUP = "logcache.commands"
# Each command and the module that registers it, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    name: f"logcache.cli.{module}"
    for name, module in (
        ("demo-data", "demo_data"),
        ("transactions", "transactions"),
        ("discover", "discover"),
        ("status", "status"),
        ("step", "step"),
        ("import-csv", "import_csv"),
        ("copy", "copy"),
        ("registry", "registry"),
        ("validate", "validate"),
        ("plan", "validate"),
        ("aggregate", "aggregate"),
        ("failures", "aggregate"),
        ("show", "show"),
        ("run", "run"),
        ("log", "log"),
        ("completion", "completion"),
    )
}


EPILOG = """\
exit codes:
  0    all done
  1    findings: datasets not copied, rows invalid, a step whose goal was not reached
  2    refused: bad input or environment; nothing was written
  3    `run` stopped at a manual step: do it, `logcache step done`, run again;
       or the operator said no to the run's question: nothing ran from there on
  70   internal error: a bug in logcache (LOGCACHE_DEBUG=1 prints its traceback)
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP); the state is saved, run again to resume

environment:
  AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CA_BUNDLE
                  the AWS environment, where [s3] profile or --profile is not set
  LOGCACHE_OPERATOR
                  who is recorded for each step (default: user@host)
  LOGCACHE_DEBUG=1
                  print the traceback of an internal error (as -v does)
  LOGCACHE_DESTINATION_WRAPPER
                  rehearsals only: module:function wrapping the destination store
  NO_COLOR        no colour in `registry diff`
"""


class _Version(argparse.Action):
    """--version, reading the installed version only when asked (see logcache.__getattr__)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, option: str | None = None) -> None:
        print(f"logcache {logcache.__version__}")  # on stdout, as argparse's own version action
        parser.exit()


def build_parser(commands: Mapping[str, str] = COMMANDS, only: str | None = None) -> argparse.ArgumentParser:
    """The parser of `commands` (each `register`ed by its module); with `only`, just the
    module of that command is imported, so `logcache status` does not pay for importing
    the data stack that other commands need."""
    parser = Parser(
        prog="logcache",
        description="Refresh the log cache of a Datomic-on-object-store ETL, safely and resumably.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show program's version number and exit")
    add_verbosity(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [commands[only]] if only is not None and only in commands else list(commands.values())
    for module in dict.fromkeys(modules):
        importlib.import_module(module).register(sub)
    return parser


def _command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The subcommand's own parser, so its errors print its own usage line."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction) and args.command in action.choices:
            return action.choices[args.command]
    return parser


def _complain(text: str) -> None:
    """The one line on stderr; a terminal that hung up (SIGHUP, EIO) does not change the
    exit code."""
    try:
        print(f"logcache: {text}", file=sys.stderr)
    except OSError:
        pass


def _start_up(commands: Mapping[str, str], command: str | None) -> argparse.ArgumentParser:
    """The parser, with the command's modules imported. The data stack's imports make
    hundreds of thousands of objects that live as long as the process; frozen, they are
    out of every later collection, the one at exit included (about 70 ms of a short
    command). Frozen once: a process that calls `main` again (the tests) must not pin the
    garbage of its earlier calls."""
    if gc.get_freeze_count():
        return build_parser(commands, only=command)
    gc.disable()
    try:
        return build_parser(commands, only=command)
    finally:
        gc.freeze()
        gc.enable()


def front_end_commands() -> dict[str, str]:
    """Commands that other installed packages add (the app's `tui` and `demo`), declared
    as `logcache.commands` entry points: the core CLI runs without them, and never
    imports them by name."""
    from importlib.metadata import entry_points  # only when a front end's command may be asked for

    return {ep.name: ep.value for ep in entry_points(group=COMMANDS_GROUP)}


def run() -> NoReturn:
    """The console script and `python -m logcache`: `main`, then out without the
    interpreter's finalization. The command's work, its state and its output are done by
    then, and native thread pools (Arrow's, Polars') can abort in their destructors at
    exit ("terminate called without an active exception", killed by SIGABRT) after a
    command that did all it should."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_in if not a.startswith("-")), None)
    # A core command needs no look-up of the installed packages' metadata (tens of ms).
    commands = COMMANDS if command in COMMANDS and command != "completion" else {**COMMANDS, **front_end_commands()}
    parser = _start_up(commands, command)
    parser.set_defaults(commands=commands)  # for `completion`, which describes them all
    try:
        args = parser.parse_args(args_in)
        claim_campaign(_command_parser(parser, args), args)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return Exit.REFUSED if exc.code not in (0, None) else Exit.DONE
    if not getattr(args, "func", None):
        parser.print_help()
        return Exit.REFUSED
    try:
        return int(args.func(args) or 0)
    except LogcacheError as exc:
        _complain(exc.one_line())
        return exc.exit_code
    except KeyboardInterrupt:
        _complain("interrupted; the campaign state is saved, run the same command again to resume")
        return Exit.INTERRUPTED
    except BrokenPipeError:
        return Exit.DONE
    except Exception as exc:  # a bug: still one line, with a way to see the traceback
        if os.environ.get("LOGCACHE_DEBUG") or getattr(args, "verbose", False):
            raise
        print(f"logcache: internal error: {describe(exc)} (set LOGCACHE_DEBUG=1 for a traceback)", file=sys.stderr)
        return Exit.INTERNAL
