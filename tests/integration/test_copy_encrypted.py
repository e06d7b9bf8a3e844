"""Copies on buckets whose ETags are not MD5s (SSE-KMS, SSE-C): the proxy in front of moto
rewrites every ETag as KMS does (opaque, another one for the copy) and says
`x-amz-server-side-encryption: aws:kms`. The copy verifies by content, never by those
ETags: no false conflict, and no false "verified"."""

from __future__ import annotations

import uuid

from support.servers import S3Proxy
from test_copy import SPECS, build_sides

from logcache.copy import copy_entries
from logcache.storage import open_store
from state.config import S3Settings


def _sides(endpoint: str, bucket: str):  # type: ignore[no-untyped-def]
    settings = S3Settings(endpoint_url=endpoint, region="us-east-1", max_attempts=3)
    run = uuid.uuid4().hex[:8]
    return build_sides(open_store(f"s3://{bucket}/{run}/src", settings, 8), open_store(f"s3://{bucket}/{run}/dst", settings, 8))


def test_kms_etags_copy_and_verify_and_a_rerun_finds_everything_present(s3_proxy: tuple[str, S3Proxy], s3_bucket: str) -> None:
    endpoint, proxy = s3_proxy
    proxy.kms_etags = True
    sides = _sides(endpoint, s3_bucket)
    src = {o.key.split("/", 1)[1]: o.etag for o in sides.source.list()}
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=2)
    assert report.ok, report.failures
    assert report.objects_copied == 10 and not [c for d in report.datasets.values() for c in d.conflicts]
    # The copies' ETags differ from the sources', as KMS makes them.
    dst = {o.key.split("/", 1)[1]: o.etag for o in sides.destination.list()}
    assert all(dst[k] != src[k] for k in dst)
    again = copy_entries(sides.entries, sides.source, sides.destination, concurrency=2)
    assert again.ok and again.objects_copied == 0 and again.objects_skipped == 10


def test_kms_etags_never_hide_other_bytes_of_the_same_size(s3_proxy: tuple[str, S3Proxy], s3_bucket: str) -> None:
    endpoint, proxy = s3_proxy
    proxy.kms_etags = True
    sides = _sides(endpoint, s3_bucket)
    _dataset, _kind, cache_id, _n = SPECS[0]
    key = f"{cache_id}/part-00000.parquet"
    good = sides.source.read_bytes(key)
    sides.destination.write_bytes(key, bytes(b ^ 0xFF for b in good))  # same size, other bytes
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=2)
    conflicts = [c for d in report.datasets.values() for c in d.conflicts]
    assert [c.destination_url for c in conflicts] == [sides.destination.url_of(key)], conflicts
    assert sides.destination.read_bytes(key) != good
