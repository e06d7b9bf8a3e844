"""`logcache show CAMPAIGN DATASET/VALIDATION`: one validation result in full."""

from __future__ import annotations

import argparse

from logcache.cli.common import Exit, SubParsers, campaign_command, open_for, print_json
from logcache.runbook import queries
from logcache.validation.detail import render_detail


def register(sub: SubParsers) -> None:
    p = campaign_command(
        sub, "show", help="one validation result in full: counts, T, sample datoms and their sources, the rerun command", lock=False, json_output="it"
    )
    p.add_argument("pair", metavar="DATASET/VALIDATION", help="e.g. raw-feed-s0/log-validation")
    p.set_defaults(func=run, _after_campaign=("pair", "DATASET/VALIDATION", "e.g. raw-feed-s0/log-validation (`logcache failures CAMPAIGN` lists the invalid ones)"))


def run(args: argparse.Namespace) -> int:
    with open_for(args, None, write=False) as campaign:
        detail = queries.pair_detail(campaign, args.pair)
    if args.json:
        print_json(dict(sorted(detail.to_json().items())))
    else:
        print("\n".join(render_detail(detail)))
    return Exit.DONE if detail.is_valid else Exit.FINDINGS
