"""`logcache log CAMPAIGN`: the campaign's event log (what the app's Log pane showed)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from logcache.cli.common import print_json
from logcache.errors import UsageError
from logcache.runbook.journal import journal_path, recent
from state.config import load_config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("log", help="print the campaign's event log (the app's Log pane, kept across sessions)")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("-n", "--lines", type=int, default=200, help="how many recent events (default 200; 0 for all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    try:
        entries = recent(config.work_dir, max(0, args.lines))
    except OSError as exc:
        raise UsageError(f"cannot read the event log {journal_path(config.work_dir)}: {exc.strerror or exc}") from None
    for entry in entries:
        if args.json:
            print_json(asdict(entry), indent=None)
        else:
            print(f"{entry.at}  {entry.operator}  {entry.text}")
    return 0
