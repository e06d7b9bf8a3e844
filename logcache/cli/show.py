"""`logcache show CAMPAIGN DATASET/VALIDATION`: one validation result in full."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from logcache.entries import CSV_NAME, read_entries
from logcache.validation.detail import pair_detail, render_detail
from state.config import load_config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help="one validation result in full: counts, T, sample datoms and their sources, the rerun command")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("pair", metavar="DATASET/VALIDATION", help="e.g. raw-feed-s0/log-validation")
    p.add_argument("--json", action="store_true", help="print it as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    detail = pair_detail(config, read_entries(config.work_dir / CSV_NAME), args.pair)
    if args.json:
        print(json.dumps(detail.to_json(), ensure_ascii=False, sort_keys=True))
    else:
        print("\n".join(render_detail(detail)))
    return 0 if detail.is_valid else 1
