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
from collections.abc import Sequence

from logcache import __version__
from logcache.errors import LogcacheError
from state.errors import StateError

# Module names under logcache.cli, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "demo_data",
    "transactions",
    "discover",
    "status",
    "step",
    "import_csv",
    "copy",
    "registry",
    "validate",
    "aggregate",
    "run",
)


def build_parser(extra_modules: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser of every command; `extra_modules` (full module names, each with a
    `register`) add commands from outside the core, such as the TUI's."""
    parser = argparse.ArgumentParser(
        prog="logcache",
        description="Refresh the log cache of a Datomic-on-object-store ETL, safely and resumably.",
    )
    parser.add_argument("--version", action="version", version=f"logcache {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (*(f"logcache.cli.{n}" for n in COMMAND_MODULES), *extra_modules):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, extra_modules: Sequence[str] = ()) -> int:
    parser = build_parser(extra_modules)
    try:
        args = parser.parse_args(argv)
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
        print(f"logcache: internal error: {type(exc).__name__}: {exc} (set LOGCACHE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
