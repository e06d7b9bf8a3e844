"""`logcache transactions CAMPAIGN`: the catalog's nightly runs, and the default choice."""

from __future__ import annotations

import argparse
from pathlib import Path

from logcache.runbook import steps
from logcache.campaign import open_campaign
from logcache.catalog import open_catalog, pick_transaction
from state.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transactions", help="list the catalog's nightly runs (runbook step 1)")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--pick", nargs="?", const="", metavar="ID", help="record the choice in the campaign (default: the latest succeeded)")
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    transactions = open_catalog(config).transactions()
    default = pick_transaction(transactions).id if any(t.status == "succeeded" for t in transactions) else None
    print(f"{'':2}{'transaction':<38} {'status':<10} {'finished at':<22} {'datasets':>8}")
    for tx in transactions:
        mark = "* " if tx.id == default else "  "
        print(f"{mark}{tx.id:<38} {tx.status:<10} {tx.finished_at:<22} {len(tx.datasets):>8}")
    if default:
        print("* the default choice: the latest succeeded run")
    if args.pick is not None:
        with open_campaign(args.campaign, break_lock=args.break_lock, notice=print) as campaign:
            tx = steps.pick(campaign, args.pick or None)
        print(f"picked {tx.id}")
    return 0
