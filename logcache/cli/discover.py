"""`logcache discover CAMPAIGN`: T, objects and bytes per dataset -> cache-entries.csv."""

from __future__ import annotations

import argparse
import sys

from logcache.cli.common import SubParsers, campaign_command, open_for, print_json
from logcache.runbook import queries
from logcache.runbook.steps import discover, pick


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "discover", help="find T and paths of every dataset (runbook step 2)", json_output="the entries and findings", s3=True)
    p.add_argument("--transaction", help="the nightly run to use (default: the one picked, else the latest succeeded)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    say = print if not args.json else (lambda text: print(text, file=sys.stderr))
    with open_for(args, say) as campaign:
        if args.transaction:
            pick.run(campaign, transaction_id=args.transaction)
        result = discover.run(campaign)
        path = queries.entries_path(campaign)
    entries = result.entries
    if args.json:
        print_json(
            {
                "transaction": result.transaction_id,
                "datasets": len(entries),
                "objects": sum(e.objects for e in entries),
                "bytes": sum(e.bytes for e in entries),
                "scanned": list(result.scanned),
                "findings": [{"name": f.name, "kind": f.kind, "message": f.message} for f in result.findings],
                "entries_csv": str(path),
            }
        )
        return 0
    print(f"transaction {result.transaction_id}: {len(entries)} datasets, {sum(e.objects for e in entries):,} objects, {sum(e.bytes for e in entries):,} bytes")
    if result.scanned:
        print(f"T read from data (no footer statistics): {', '.join(result.scanned)}")
    for f in result.findings:
        print(f"finding: {f.name}: {f.kind}: {f.message}")
    print(f"wrote {path}")
    return 0
