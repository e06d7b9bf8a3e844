"""`logcache discover CAMPAIGN`: T, objects and bytes per dataset -> cache-entries.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from logcache.runbook import steps
from logcache.campaign import open_campaign


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="find T and paths of every dataset (runbook step 2)")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--transaction", help="the nightly run to use (default: the one picked, else the latest succeeded)")
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_campaign(args.campaign, break_lock=args.break_lock, notice=print) as campaign:
        if args.transaction:
            steps.pick(campaign, args.transaction)
        result = steps.run_discover(campaign)
        entries = result.entries
        print(
            f"transaction {result.transaction_id}: {len(entries)} datasets, "
            f"{sum(e.objects for e in entries):,} objects, {sum(e.bytes for e in entries):,} bytes"
        )
        if result.scanned:
            print(f"T read from data (no footer statistics): {', '.join(result.scanned)}")
        for f in result.findings:
            print(f"finding: {f.name}: {f.kind}: {f.message}")
        print(f"wrote {steps.entries_path(campaign)}")
    return 0
