"""The demo world's `campaign.toml`, written with comments so an operator can read it.

tomli-w cannot write comments, so this is a template; `state.config.load_config` is the
parser and the tests load every generated file through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from state.config import S3Settings


@dataclass(frozen=True)
class CampaignLocations:
    """Locations as written in the file: relative paths for a local world, URLs for S3."""

    source: str
    destination: str
    logs: str
    catalog: str
    registry: str


def _q(value: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes).
    return json.dumps(value, ensure_ascii=False)


def render_campaign(name: str, seed: int, scale: str, where: CampaignLocations, s3: S3Settings | None) -> str:
    s3_lines = (
        [
            "[s3]",
            "# The S3-protocol endpoint holding the world. Credentials come from the usual AWS",
            "# environment or a profile (`profile = \"name\"`), never from this file.",
            f"endpoint_url = {_q(s3.endpoint_url)}" if s3.endpoint_url else "# endpoint_url = \"https://s3.example.com\"",
            f"region = {_q(s3.region)}" if s3.region else "# region = \"us-east-1\"",
            f"retry_mode = {_q(s3.retry_mode)}" if s3.retry_mode else "# retry_mode = \"standard\"  # else AWS_RETRY_MODE",
            f"max_attempts = {s3.max_attempts}" if s3.max_attempts else "# max_attempts = 10  # else AWS_MAX_ATTEMPTS",
        ]
        if s3
        else [
            "# [s3]",
            "# Only needed when a location above is an s3:// URL: endpoint_url, region, profile,",
            "# retry_mode (standard or adaptive), max_attempts. Never put credentials here.",
        ]
    )
    lines = [
        f"# A logcache campaign: refresh the log cache of the demo world (seed {seed}, scale {scale}).",
        "# Made by `logcache demo-data`; see README for every setting. Relative paths are",
        "# relative to this file's folder, so the world can be moved as a whole.",
        "",
        "[campaign]",
        "# Shown in the TUI and in reports.",
        f"name = {_q(name)}",
        "# Where logcache keeps this campaign's state, lock, cache-entries.csv and results.",
        'work_dir = "."',
        "",
        "[source]",
        "# The ephemeral area: every nightly run's datasets, <id>/part-*.parquet. Only read.",
        f"url = {_q(where.source)}",
        "",
        "[destination]",
        "# The permanent cache area the refresh copies into (same <id> prefixes).",
        f"url = {_q(where.destination)}",
        "",
        "[logs]",
        "# Every shard's transaction log as Avro: <shard>/segment-<first t>-<last t>.avro.",
        f"url = {_q(where.logs)}",
        "",
        "[catalog]",
        "# The nightly runs, one JSON file per transaction; the refresh picks the latest",
        "# that succeeded unless told otherwise.",
        'kind = "files"',
        f"url = {_q(where.catalog)}",
        "",
        "[registry]",
        "# The cache registry (a Scala file in the ETL's repository) before the refresh.",
        f"path = {_q(where.registry)}",
        'format = "scala"',
        "",
        *s3_lines,
        "",
        "[copy]",
        "# Objects copied in parallel.",
        "concurrency = 16",
        "",
        "[validation]",
        "# Parallel parcels, each validating a share of the databases' shards.",
        "parcel_count = 3",
        '# local: a process pool on this machine ("dask" and "command" scale out).',
        'backend = "local"',
        "# size: balance parcels by data size; alphabetical: the manual runbook's split.",
        'balance = "size"',
        "",
    ]
    return "\n".join(lines)
