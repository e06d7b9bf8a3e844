"""`logcache import-csv CAMPAIGN FILE.csv`: finish with logcache a campaign begun by hand."""

from __future__ import annotations

import argparse
from pathlib import Path

from logcache.runbook import steps
from logcache.campaign import open_campaign
from logcache.entries import write_entries
from logcache.discover.import_csv import read_entries_csv
from logcache.stores import open_destination
from state.model import StepName, StepStatus


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-csv", help="seed the discovered entries from a hand-made cache-entries CSV")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("csv", type=Path, help="the CSV: logcache's cache-entries.csv or the notebook's export")
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_campaign(args.campaign, break_lock=args.break_lock, notice=print) as campaign:
        entries = read_entries_csv(args.csv, open_destination(campaign.config))
        write_entries(steps.entries_path(campaign), entries)
        campaign.state.reset_from(StepName.COPY)
        campaign.state.datasets = [steps.dataset_state(e, None) for e in entries]
        for name in (StepName.PICK_TRANSACTION, StepName.DISCOVER):
            campaign.state.finish_step(name, StepStatus.SKIPPED, note=f"imported {len(entries)} entries from {args.csv}")
    print(f"imported {len(entries)} cache entries from {args.csv}; next: logcache run {args.campaign}")
    return 0
