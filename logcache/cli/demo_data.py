"""`logcache demo-data DIR`: build a deterministic demo world to rehearse a refresh on."""

from __future__ import annotations

import argparse
from pathlib import Path

from logcache.demo import FAULT_KINDS, SCALES, WorldSummary, build_world, parse_faults
from logcache.errors import UsageError
from logcache.storage import split_url
from state.config import S3Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "demo-data",
        help="build a synthetic campaign world (logs, catalog, caches, registry, campaign.toml)",
        description="Build a deterministic demo world in DIR (a new or empty folder, or s3://bucket/prefix).",
    )
    p.add_argument("dir", metavar="DIR", help="a new or empty folder, or s3://bucket/prefix")
    p.add_argument("--seed", type=int, default=7, help="the world is identical for the same seed (default 7)")
    p.add_argument("--scale", choices=tuple(SCALES), default="tiny", help="tiny ~3k datoms, small ~200k, medium ~2.5M, large ~29M, xlarge ~96M (streamed in blocks; for benches, no faults)")
    p.add_argument(
        "--fault", action="append", default=[], metavar="KIND=COUNT",
        help=f"break COUNT datasets of the chosen run; KIND is one of {', '.join(FAULT_KINDS)} (repeatable)",
    )
    p.add_argument("--endpoint-url", help="S3 endpoint for an s3:// DIR (e.g. http://127.0.0.1:9000)")
    p.add_argument("--campaign-dir", type=Path, help="with an s3:// DIR: a local folder for campaign.toml, registry and truth.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    faults = parse_faults(args.fault)
    is_s3 = split_url(args.dir)[0] == "s3"
    if args.endpoint_url and not is_s3:
        raise UsageError("--endpoint-url only applies to an s3:// DIR")
    # Few attempts: a demo endpoint that refuses connections should fail in seconds.
    s3 = S3Settings(endpoint_url=args.endpoint_url, max_attempts=3) if is_s3 else None
    summary = build_world(args.dir, args.seed, args.scale, faults, args.campaign_dir, s3)
    print(describe(summary))
    return 0


def describe(s: WorldSummary) -> str:
    largest, largest_n = s.largest_shard
    lines = [
        f"Built a demo world at {s.target} (seed {s.seed}, scale {s.scale}) in {s.seconds:.1f} s",
        f"  shards:   {s.shards} in {s.databases} databases, {s.datoms:,} datoms (largest {largest}: {largest_n:,})",
        f"  datasets: {s.datasets} in {s.runs} nightly runs; the refresh picks {s.transaction} ({s.chosen_datasets} datasets)",
        f"  written:  {s.objects:,} objects, {s.bytes / 1e6:,.1f} MB",
    ]
    if s.faults:
        lines.append("  faults:   " + ", ".join(f"{f['kind']} {f['entry']}" for f in s.faults))
    else:
        lines.append("  faults:   none (add some with --fault KIND=COUNT)")
    lines += [f"  campaign: {s.campaign_path}", f"Next: logcache transactions {s.campaign_path}"]
    return "\n".join(lines)

