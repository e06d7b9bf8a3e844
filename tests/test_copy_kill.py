"""A real `logcache copy` process killed with SIGKILL mid-way resumes exactly where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from logcache.entries import CSV_NAME, CacheEntry, write_entries

PREFIXES = 6
PER_PREFIX = 80
TOTAL = PREFIXES * PER_PREFIX


def _listing(client: object, bucket: str, prefix: str) -> list[tuple[str, int, str]]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return [(o["Key"][len(prefix):], o["Size"], o["ETag"]) for p in pages for o in p.get("Contents", [])]


def _campaign(tmp_path: Path, endpoint: str, bucket: str) -> Path:
    path = tmp_path / "campaign.toml"
    path.write_text(
        f"""
[campaign]
name = "kill-test"
[source]
url = "s3://{bucket}/ephemeral"
[destination]
url = "s3://{bucket}/permanent/cache"
[logs]
url = "logs"
[catalog]
url = "catalog"
[registry]
path = "registry/LogCacheEntries.scala"
[s3]
endpoint_url = "{endpoint}"
region = "us-east-1"
[copy]
concurrency = 2
""",
        encoding="utf-8",
    )
    return path


def _run_copy(campaign: Path, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "logcache", "copy", str(campaign), "--concurrency", "2", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kw,  # type: ignore[arg-type]
    )


def test_sigkill_mid_copy_then_rerun_copies_only_what_is_missing(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    entries = []
    for p in range(PREFIXES):
        cache_id = f"id{p:02d}"
        keys = [f"ephemeral/{cache_id}/part-{i:05d}.parquet" for i in range(PER_PREFIX)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=s3_bucket, Key=k, Body=k.encode() * 8), keys))
        entries.append(
            CacheEntry(
                f"raw-kill-s{p}", "log", 10, f"s3://{s3_bucket}/ephemeral/{cache_id}",
                f"s3://{s3_bucket}/permanent/cache/{cache_id}", PER_PREFIX, sum(len(k) * 8 for k in keys),
            )
        )
    write_entries(tmp_path / CSV_NAME, entries)
    campaign = _campaign(tmp_path, s3_endpoint, s3_bucket)
    source_before = _listing(client, s3_bucket, "ephemeral/")

    first = _run_copy(campaign)
    deadline = time.monotonic() + 120
    present = 0
    while present < TOTAL // 5:
        assert first.poll() is None, f"copy ended before it could be killed: {first.communicate()}"
        assert time.monotonic() < deadline, "the copy made no progress"
        time.sleep(0.05)
        present = len(_listing(client, s3_bucket, "permanent/cache/"))
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    time.sleep(0.5)  # let the server finish the requests that were in flight
    present = len(_listing(client, s3_bucket, "permanent/cache/"))
    assert 0 < present < TOTAL

    second = _run_copy(campaign)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    report = json.loads(out)
    assert report["ok"] and not report["interrupted"]
    assert report["objects_copied"] == TOTAL - present
    assert report["objects_skipped"] == present
    assert report["counts"] == {"verified": PREFIXES}

    assert _listing(client, s3_bucket, "permanent/cache/") == [
        (key, size, etag) for key, size, etag in _listing(client, s3_bucket, "ephemeral/")
    ]
    assert _listing(client, s3_bucket, "ephemeral/") == source_before
