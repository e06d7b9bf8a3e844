"""`logcache`: one command with a subcommand per runbook step.

Each subcommand lives in its own module with a `register(subparsers)` function that
adds its parser and sets `func` (taking the parsed args, returning an exit code).
Errors caused by input or environment print one line and exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence

from logcache import __version__
from logcache.errors import LogcacheError, describe
from state.errors import StateError

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
        ("run", "run"),
        ("log", "log"),
    )
}


def build_parser(commands: Mapping[str, str] = COMMANDS, only: str | None = None) -> argparse.ArgumentParser:
    """The parser of `commands` (each `register`ed by its module); with `only`, just the
    module of that command is imported, so `logcache status` does not pay for importing
    the data stack that other commands need."""
    parser = argparse.ArgumentParser(
        prog="logcache",
        description="Refresh the log cache of a Datomic-on-object-store ETL, safely and resumably.",
    )
    parser.add_argument("--version", action="version", version=f"logcache {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [commands[only]] if only in commands else list(commands.values())
    for module in dict.fromkeys(modules):
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, extra_commands: Mapping[str, str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser({**COMMANDS, **(extra_commands or {})}, only=command)
    try:
        args = parser.parse_args(args_in)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return 2 if exc.code not in (0, None) else 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (LogcacheError, StateError) as exc:
        print(f"logcache: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("logcache: interrupted; the campaign state is saved, run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: still one line, with a way to see the traceback
        if os.environ.get("LOGCACHE_DEBUG"):
            raise
        print(f"logcache: internal error: {describe(exc)} (set LOGCACHE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
