"""Shared fixtures: a real S3-protocol server (moto's server mode) on loopback; the
servers' code and helpers are in `support/servers.py`.

Tests talk HTTP to it through boto3; nothing patches boto3 in process. A proxy in front of
it stands in for S3's throttling.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.campaigns import write_campaign
from support.servers import CopyCampaign, S3Proxy, proxy_server

from state.config import S3Settings


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_settings(s3_endpoint: str) -> S3Settings:
    return S3Settings(endpoint_url=s3_endpoint, region="us-east-1", max_attempts=3)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_url(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}/root"


@pytest.fixture
def copy_campaign(tmp_path: Path, s3_endpoint: str, s3_bucket: str, s3_proxy: tuple[str, S3Proxy]) -> CopyCampaign:
    import boto3

    from logcache.entries import CSV_NAME, CacheEntry, write_entries

    proxy_endpoint, proxy = s3_proxy
    prefixes, per_prefix = 6, 80
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    entries = []
    for p in range(prefixes):
        cache_id = f"id{p:02d}"
        keys = [f"ephemeral/{cache_id}/part-{i:05d}.parquet" for i in range(per_prefix)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=s3_bucket, Key=k, Body=k.encode() * 8), keys))
        entries.append(
            CacheEntry(
                f"raw-kill-s{p}", "log", 10, f"s3://{s3_bucket}/ephemeral/{cache_id}",
                f"s3://{s3_bucket}/permanent/cache/{cache_id}", per_prefix, sum(len(k) * 8 for k in keys),
            )
        )
    write_entries(tmp_path / CSV_NAME, entries)
    path = write_campaign(
        tmp_path,
        f"""[s3]
endpoint_url = "{proxy_endpoint}"
region = "us-east-1"
[copy]
concurrency = 2
""",
        source=f"s3://{s3_bucket}/ephemeral",
        destination=f"s3://{s3_bucket}/permanent/cache",
        name="kill-test",
    )
    return CopyCampaign(path, client, s3_bucket, prefixes, prefixes * per_prefix, proxy)


@pytest.fixture
def s3_proxy(s3_endpoint: str) -> Iterator[tuple[str, S3Proxy]]:
    with proxy_server(s3_endpoint) as served:
        yield served
