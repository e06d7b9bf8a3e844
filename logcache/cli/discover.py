"""`logcache discover CAMPAIGN`: T, objects and bytes per dataset -> cache-entries.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from logcache.catalog import open_catalog, pick_transaction
from logcache.discover import discover
from logcache.entries import CSV_NAME, write_entries
from logcache.stores import open_destination, open_source
from state.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="find T and paths of every dataset (runbook step 2)")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--transaction", help="the nightly run to use (default: the latest succeeded)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    tx = pick_transaction(open_catalog(config).transactions(), args.transaction)
    result = discover(tx, open_source(config), open_destination(config), config.copy.concurrency)
    out = config.work_dir / CSV_NAME
    write_entries(out, result.entries)
    total = sum(e.bytes for e in result.entries)
    print(f"transaction {tx.id}: {len(result.entries)} datasets, {sum(e.objects for e in result.entries):,} objects, {total:,} bytes")
    if result.scanned:
        print(f"T read from data (no footer statistics): {', '.join(result.scanned)}")
    for f in result.findings:
        print(f"finding: {f.name}: {f.kind}: {f.message}")
    print(f"wrote {out}")
    return 0
