"""`logcache status CAMPAIGN [--json]`: the checklist, counts and what to do next."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from logcache.campaign import lock_holder
from logcache.cli.common import SubParsers, campaign_command
from logcache.runbook.status import parcel_forecasts, render_forecasts, render_status, status_report
from state.config import load_config
from state.persist import load_or_new


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "status", help="print the campaign's checklist and what to do next", lock=False, json_output="the checklist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    # Read only: status never takes the lock, so it works while another operator drives.
    report = status_report(load_or_new(config.state_path, config.name), str(args.campaign), config)
    holder = lock_holder(config)
    forecasts = parcel_forecasts(config)
    if args.json:
        body = report.to_json()
        body["driven_by"] = holder.describe() if holder else None
        body["parcel_forecasts"] = [asdict(f) | {"error": f.error} for f in forecasts]
        print(json.dumps(body, indent=1))
    else:
        print(render_status(report))
        if forecasts:
            print(render_forecasts(forecasts))
        if holder:
            print(f"driven by {holder.describe()}")
    return 0
