"""`logcache step done CAMPAIGN STEP --note TEXT`: record a manual step."""

from __future__ import annotations

import argparse

from logcache.cli.common import SubParsers, add_break_lock, add_campaign, open_for
from logcache.runbook.driver import confirm_manual
from logcache.runbook.spec import MANUAL_STEPS
from state.model import StepName


def register(sub: SubParsers) -> None:
    p = sub.add_parser("step", help="record a manual step (build-image, merge-pr) as done")
    p.add_argument("action", choices=["done"])
    add_campaign(p)
    p.add_argument("step", choices=sorted(s.value for s in MANUAL_STEPS))
    p.add_argument("--note", default="", help="what was done, e.g. the image tag or the PR URL")
    add_break_lock(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_for(args) as campaign:
        confirm_manual(campaign, StepName(args.step), args.note)
    print(f"{args.step}: done")
    return 0
