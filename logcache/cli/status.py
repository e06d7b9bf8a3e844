"""`logcache status CAMPAIGN [--json]`: the checklist, counts and what to do next."""

from __future__ import annotations

import argparse
import json

from logcache.campaign import lock_holder
from logcache.cli.common import SubParsers, campaign_command
from logcache.runbook.status import render_status, status_report
from state.config import load_config
from state.model import StepStatus
from state.persist import load_or_new


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "status", help="print the campaign's checklist and what to do next", lock=False, json_output="the checklist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    # Read only: status never takes the lock, so it works while another operator drives.
    state = load_or_new(config.state_path, config.name)
    nxt = state.next_step()
    actions = None
    if nxt is not None and nxt.status is StepStatus.FAILED:
        # Imported only here: the fixes read the results, a plain `status` stays quick.
        from logcache.runbook.next_actions import actions_for

        actions = actions_for(config, state, str(args.campaign))
    report = status_report(state, str(args.campaign), config, actions)
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
