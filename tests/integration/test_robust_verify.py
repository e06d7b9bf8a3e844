""""Verified" means the destination's bytes are shown equal to the source's: a same-size
object with other bytes is a conflict, locally and on S3 with a multipart ETag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3

from logcache.copy import DatasetStatus, copy_entries
from logcache.demo import build_world
from logcache.entries import CSV_NAME, CacheEntry, read_entries
from logcache.storage import open_store
from state.config import S3Settings


def _logcache(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logcache", *args], capture_output=True, text=True, timeout=120, env=os.environ.copy())


def test_local_same_size_other_bytes_is_a_conflict_not_verified(tmp_path: Path) -> None:
    root = tmp_path / "w"
    build_world(str(root), seed=3, scale="tiny")
    campaign = str(root / "campaign.toml")
    assert _logcache("discover", campaign).returncode == 0
    entry = next(e for e in read_entries(root / CSV_NAME) if e.objects)
    source = Path(entry.source.removeprefix("file://"))
    destination = Path(entry.destination.removeprefix("file://"))
    first = min(p for p in source.rglob("*") if p.is_file())
    forged = destination / first.relative_to(source)
    forged.parent.mkdir(parents=True, exist_ok=True)
    forged.write_bytes(os.urandom(first.stat().st_size))

    run = _logcache("copy", campaign, "--only", entry.name, "--json")
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["counts"] == {"conflict": 1}
    assert len(report["datasets"][0]["conflicts"]) == 1 and report["datasets"][0]["objects_skipped"] == 0
    assert "CONFLICT" in run.stderr and "rerun with --overwrite" in run.stderr
    assert forged.read_bytes() != first.read_bytes()

    again = _logcache("copy", campaign, "--only", entry.name, "--overwrite", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counts"] == {"verified": 1}
    assert forged.read_bytes() == first.read_bytes()


def _multipart_put(client: object, bucket: str, key: str, data: bytes) -> str:
    part = 5 * 1024 * 1024
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    parts = []
    for number, start in enumerate(range(0, len(data), part), 1):
        reply = client.upload_part(  # type: ignore[attr-defined]
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=data[start : start + part]
        )
        parts.append({"ETag": reply["ETag"], "PartNumber": number})
    done = client.complete_multipart_upload(  # type: ignore[attr-defined]
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    return str(done["ETag"]).strip('"')


def test_s3_same_size_multipart_object_is_checked_by_content(s3_endpoint: str, s3_settings: S3Settings, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    run = uuid.uuid4().hex[:8]
    data = os.urandom(5 * 1024 * 1024 + 1000)
    small = b"PAR1 small part" * 100
    client.put_object(Bucket=s3_bucket, Key=f"{run}/eph/idM/part-0.parquet", Body=data)
    client.put_object(Bucket=s3_bucket, Key=f"{run}/eph/idM/part-1.parquet", Body=small)
    # Same size, other bytes, uploaded in parts: its ETag cannot be compared with the source's.
    forged = bytearray(data)
    forged[-1] ^= 0xFF
    etag = _multipart_put(client, s3_bucket, f"{run}/perm/idM/part-0.parquet", bytes(forged))
    assert "-" in etag
    source = open_store(f"s3://{s3_bucket}/{run}/eph", s3_settings)
    destination = open_store(f"s3://{s3_bucket}/{run}/perm", s3_settings)
    entries = [CacheEntry("raw-mp-s0", "log", 1, source.url_of("idM"), destination.url_of("idM"), 2, len(data) + len(small))]

    report = copy_entries(entries, source, destination, concurrency=2)
    result = report.datasets["raw-mp-s0/log"]
    assert result.status is DatasetStatus.CONFLICT
    assert [c.destination_url for c in result.conflicts] == [destination.url_of("idM/part-0.parquet")]

    # The same bytes uploaded in parts are accepted, by their content.
    _multipart_put(client, s3_bucket, f"{run}/perm/idM/part-0.parquet", data)
    report = copy_entries(entries, source, destination, concurrency=2)
    result = report.datasets["raw-mp-s0/log"]
    assert result.status is DatasetStatus.VERIFIED, result.reason
    assert (result.objects_skipped, result.objects_copied) == (1, 1)
