"""`logcache status CAMPAIGN [--json]`: the checklist, counts and what to do next."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from logcache.campaign import lock_path, runs_detached
from logcache.cli.common import SubParsers, campaign_command, print_json
from logcache.runbook.status import parcel_forecasts, render_forecasts, render_status, status_report
from state.config import load_config
from state.lock import lock_status
from state.model import StepStatus
from state.persist import load_or_new


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "status", help="print the campaign's checklist and what to do next", lock=False, json_output="the checklist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    # Read only: status never takes the lock, so it works while another operator drives.
    lock = lock_status(lock_path(config))
    state = load_or_new(config.state_path, config.name)
    if not lock.driving:
        # Its driver is gone (killed): shown as its next driver will find it, nothing running.
        state.settle(lambda parcel: runs_detached(config, parcel))
    nxt = state.next_step()
    actions = None
    if nxt is not None and nxt.status is StepStatus.FAILED:
        # Imported only here: the fixes read the results, a plain `status` stays quick.
        from logcache.runbook.next_actions import actions_for

        actions = actions_for(config, state, str(args.campaign))
    report = status_report(state, str(args.campaign), config, actions)
    forecasts = parcel_forecasts(config)
    if args.json:
        body = report.to_json()
        body["parcel_forecasts"] = [asdict(f) | {"error": f.error} for f in forecasts]
        body["driven_by"] = lock.holder.describe() if lock.driving and lock.holder else None
        body["lock"] = {"state": lock.state.value, "holder": lock.holder.describe() if lock.holder else None, "host": lock.holder.host if lock.holder else None}
        print_json(body)
    else:
        print(render_status(report))
        if forecasts:
            print(render_forecasts(forecasts))
        if lock.holder:
            print(lock.describe())
    return 0
