"""Shared fixtures: a real S3-protocol server (moto's server mode) on loopback.

Tests talk HTTP to it through boto3; nothing patches boto3 in process. A proxy in front of
it stands in for S3's throttling.
"""

from __future__ import annotations

import http.client
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from logcache.storage.s3_direct import USER_AGENT
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


@dataclass(frozen=True)
class CopyCampaign:
    """A campaign whose entries are many small objects on the S3 server, reached through a
    proxy that can hold copies, so a test stops a copy half-way at a moment it chooses."""

    path: Path
    client: Any
    bucket: str
    prefixes: int
    total: int
    proxy: S3Proxy


def listing(client: Any, bucket: str, prefix: str) -> list[tuple[str, int, str]]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [(o["Key"][len(prefix):], o["Size"], o["ETag"]) for p in pages for o in p.get("Contents", [])]


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
    path = tmp_path / "campaign.toml"
    path.write_text(
        f"""
[campaign]
name = "kill-test"
[source]
url = "s3://{s3_bucket}/ephemeral"
[destination]
url = "s3://{s3_bucket}/permanent/cache"
[logs]
url = "logs"
[catalog]
url = "catalog"
[registry]
path = "registry/LogCacheEntries.scala"
[s3]
endpoint_url = "{proxy_endpoint}"
region = "us-east-1"
[copy]
concurrency = 2
""",
        encoding="utf-8",
    )
    return CopyCampaign(path, client, s3_bucket, prefixes, prefixes * per_prefix, proxy)


class S3Proxy:
    """An HTTP proxy on loopback in front of the moto server. It answers CopyObject requests
    with canned replies while it has any, the way S3 answers when it throttles (503
    SlowDown) or when a request is for another region (301); and it can hold every copy
    after the first `hold_after` until `release()`, so a test interrupts a copy run at a
    known point instead of racing it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.split("//", 1)[1]
        self.canned: list[tuple[int, bytes]] = []
        self.hold_after: int | None = None
        self.released = threading.Event()
        self.copy_requests = 0
        self.direct_copy_requests = 0
        self.lock = threading.Lock()

    def answer(self, method: str, headers: Any) -> tuple[int, bytes] | None:
        if method != "PUT" or "x-amz-copy-source" not in headers:
            return None
        with self.lock:
            self.copy_requests += 1
            self.direct_copy_requests += headers.get("User-Agent") == USER_AGENT
            held = self.hold_after is not None and self.copy_requests > self.hold_after
            canned = self.canned.pop(0) if self.canned else None
        if held:
            self.released.wait(60)
        return canned

    @property
    def holding(self) -> bool:
        return self.hold_after is not None and self.copy_requests > self.hold_after and not self.released.is_set()

    def release(self) -> None:
        self.released.set()


def _proxy_handler(proxy: S3Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: Nagle would hold the second for an ACK.
        disable_nagle_algorithm = True

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            canned = proxy.answer(self.command, self.headers)
            if canned is not None:
                status, payload = canned
                headers = [("Content-Type", "application/xml")]
            else:
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                reply = upstream.getresponse()
                status, payload = reply.status, reply.read()
                headers = [(k, v) for k, v in reply.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                if self.command == "HEAD":
                    headers.append(("Content-Length", reply.getheader("Content-Length", "0")))
                upstream.close()
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_HEAD = do_POST = handle_any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def s3_proxy(s3_endpoint: str) -> Iterator[tuple[str, S3Proxy]]:
    proxy = S3Proxy(s3_endpoint)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(proxy))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    finally:
        proxy.release()
        server.shutdown()
        server.server_close()
