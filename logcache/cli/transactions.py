"""`logcache transactions CAMPAIGN`: the catalog's nightly runs, and the default choice."""

from __future__ import annotations

import argparse

from logcache.cli.common import SubParsers, campaign_command, open_for, print_json
from logcache.runbook import queries
from logcache.runbook.steps import pick


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "transactions", help="list the catalog's nightly runs (runbook step 1)", json_output="the runs", s3=True)
    p.add_argument("--pick", nargs="?", const="", metavar="ID", help="record the choice in the campaign (default: the latest succeeded)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_for(args, write=False) as campaign:
        transactions = queries.transactions(campaign)
    chosen = queries.default_transaction(transactions)
    default = chosen.id if chosen else None
    if args.json:
        picked = None
        if args.pick is not None:
            with open_for(args, notice=None) as campaign:
                picked = pick.run(campaign, transaction_id=args.pick or None).id
        runs = [{"id": t.id, "status": t.status, "finished_at": t.finished_at, "datasets": len(t.datasets)} for t in transactions]
        print_json({"transactions": runs, "default": default, "picked": picked})
        return 0
    print(f"{'':2}{'transaction':<38} {'status':<10} {'finished at':<22} {'datasets':>8}")
    for tx in transactions:
        mark = "* " if tx.id == default else "  "
        print(f"{mark}{tx.id:<38} {tx.status:<10} {tx.finished_at:<22} {len(tx.datasets):>8}")
    if default:
        print("* the default choice: the latest succeeded run")
    if args.pick is not None:
        with open_for(args) as campaign:
            tx = pick.run(campaign, transaction_id=args.pick or None)
        print(f"picked {tx.id}")
    return 0
