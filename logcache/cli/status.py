"""`logcache status CAMPAIGN [--json]`: the checklist, counts and what to do next."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from logcache.campaign import lock_holder
from logcache.runbook.status import render_status, status_report
from state.config import load_config
from state.persist import load_or_new


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="print the campaign's checklist and what to do next")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    # Read only: status never takes the lock, so it works while another operator drives.
    report = status_report(load_or_new(config.state_path, config.name), str(args.campaign))
    holder = lock_holder(config)
    if args.json:
        body = report.to_json()
        body["driven_by"] = holder.describe() if holder else None
        print(json.dumps(body, indent=1))
    else:
        print(render_status(report))
        if holder:
            print(f"driven by {holder.describe()}")
    return 0
