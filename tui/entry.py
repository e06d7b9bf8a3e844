"""The `logcache` console script: the core CLI plus the commands that open the app."""

from __future__ import annotations

from collections.abc import Sequence

from logcache.cli import main as core_main


def main(argv: Sequence[str] | None = None) -> int:
    return core_main(argv, extra_commands={"tui": "tui.subcommands", "demo": "tui.subcommands"})
