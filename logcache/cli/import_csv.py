"""`logcache import-csv CAMPAIGN FILE.csv`: finish with logcache a campaign begun by hand."""

from __future__ import annotations

import argparse
from pathlib import Path

from logcache.cli.common import SubParsers, campaign_command, open_for
from logcache.runbook.steps import discover


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "import-csv", help="seed the discovered entries from a hand-made cache-entries CSV", s3=True)
    p.add_argument("csv", type=Path, help="the CSV: logcache's cache-entries.csv or the notebook's export")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_for(args) as campaign:
        imported = discover.import_entries(campaign, args.csv)
    print(f"imported {len(imported)} cache entries from {args.csv}; next: logcache run {args.campaign}")
    return 0
