"""One storage contract, run against a local directory and a real S3 server on loopback."""

import io
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logcache.errors import AccessDenied, BucketNotFound, EndpointUnreachable, PathNotFound
from logcache.storage import LocalStore, Store, open_store
from logcache.storage.s3 import S3Store
from state.config import S3Settings


@pytest.fixture(params=["local", "s3", "s3-boto3-only"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "root")
    settings = replace(request.getfixturevalue("s3_settings"), direct_requests=request.param == "s3")
    url = request.getfixturevalue("s3_url")
    s3 = open_store(url, settings)
    assert isinstance(s3, S3Store) and (s3.direct is not None) == settings.direct_requests
    s3.page_size = 2  # so listing crosses several pages
    return s3


def test_write_list_stat_read(store: Store) -> None:
    for key in ["b/2.bin", "a/1.bin", "a/sub/3.bin", "ab/4.bin"]:
        store.write_bytes(key, key.encode() * 3)
    listed = list(store.list("a"))
    assert [o.key for o in listed] == ["a/1.bin", "a/sub/3.bin"]
    assert [o.size for o in listed] == [len(b"a/1.bin") * 3, len(b"a/sub/3.bin") * 3]
    assert all(o.mtime > 0 for o in listed)
    assert [o.key for o in store.list()] == ["a/1.bin", "a/sub/3.bin", "ab/4.bin", "b/2.bin"]
    assert list(store.list("missing")) == []
    assert store.stat("b/2.bin").size == len(b"b/2.bin") * 3
    assert store.exists("b/2.bin") and not store.exists("b/9.bin")
    assert store.read_bytes("ab/4.bin") == b"ab/4.bin" * 3
    store.write_bytes("ab/4.bin", b"new")
    assert store.read_bytes("ab/4.bin") == b"new"


def test_missing_object_is_path_not_found_with_its_url(store: Store) -> None:
    with pytest.raises(PathNotFound) as err:
        store.stat("cache/4FUNeUsqSRqxORFm0aJ-jA/part-0.parquet")
    assert str(err.value) == store.url_of("cache/4FUNeUsqSRqxORFm0aJ-jA/part-0.parquet")
    with pytest.raises(PathNotFound):
        store.open_read("nope")


def test_open_read_serves_parquet_and_avro(store: Store) -> None:
    buf = io.BytesIO()
    table = pa.table({"t": list(range(3000)), "v": [str(i) for i in range(3000)]})
    pq.write_table(table, buf, row_group_size=1000)
    store.write_bytes("x/part-0.parquet", buf.getvalue())
    with store.open_read("x/part-0.parquet") as f:
        pf = pq.ParquetFile(f)
        assert pf.metadata.num_row_groups == 3
        assert pf.read_row_group(2).column("t").to_pylist()[0] == 2000
        f.seek(0)
        assert f.read(4) == b"PAR1"
    avro = io.BytesIO()
    schema = {"type": "record", "name": "R", "fields": [{"name": "e", "type": "long"}]}
    fastavro.writer(avro, schema, [{"e": i} for i in range(10)])
    store.write_bytes("x/seg.avro", avro.getvalue())
    with store.open_read("x/seg.avro") as f:
        assert [r["e"] for r in fastavro.reader(f)] == list(range(10))


def test_copy_within_store_keeps_source(store: Store) -> None:
    store.write_bytes("src/a.bin", b"payload")
    store.copy_from(store, "src/a.bin", "dst/a.bin", size=7)
    assert store.read_bytes("dst/a.bin") == b"payload"
    assert store.read_bytes("src/a.bin") == b"payload"


def test_local_copy_is_a_hard_link(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("src/a.bin", b"payload")
    store.copy_from(store, "src/a.bin", "dst/a.bin")
    assert os.stat(tmp_path / "src/a.bin").st_ino == os.stat(tmp_path / "dst/a.bin").st_ino


@pytest.mark.parametrize("direct", [True, False])
def test_s3_copy_is_one_server_side_request(s3_settings: S3Settings, s3_bucket: str, caplog: pytest.LogCaptureFixture, direct: bool) -> None:
    store = open_store(f"s3://{s3_bucket}/root", replace(s3_settings, direct_requests=direct))
    store.write_bytes("src/a b+ü.bin", b"x" * 1000)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        store.copy_from(store, "src/a b+ü.bin", "dst/a b+ü.bin", size=1000)
    # What the server saw: one PUT carrying the copy source, no GET of the bytes.
    seen = [r.getMessage().split('"')[1].split()[0] for r in caplog.records if r.name == "werkzeug"]
    assert seen == ["PUT"]
    assert store.stat("dst/a b+ü.bin").etag == store.stat("src/a b+ü.bin").etag


def test_copy_across_stores_both_ways(tmp_path: Path, s3_settings: S3Settings, s3_url: str) -> None:
    local = LocalStore(tmp_path / "l")
    s3 = open_store(s3_url, s3_settings)
    local.write_bytes("a.bin", b"from local")
    s3.copy_from(local, "a.bin", "up/a.bin")
    assert s3.read_bytes("up/a.bin") == b"from local"
    local.copy_from(s3, "up/a.bin", "down/a.bin")
    assert (tmp_path / "l/down/a.bin").read_bytes() == b"from local"


def test_missing_bucket(s3_settings: S3Settings) -> None:
    with pytest.raises(BucketNotFound, match="bucket no-such-bucket-here does not exist"):
        list(open_store("s3://no-such-bucket-here/x", s3_settings).list())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = open_store("s3://bucket/x", S3Settings(endpoint_url=f"http://127.0.0.1:{_free_port()}", max_attempts=1))
    with pytest.raises(EndpointUnreachable, match="no S3 server answered"):
        store.stat("k")


def test_wrong_credentials_are_access_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto checks signatures only with IAM auth on; a separate server keeps that setting
    # away from every other test.
    port = _free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        store = open_store("s3://bucket/x", S3Settings(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1))
        with pytest.raises(AccessDenied, match="check the AWS profile or credentials"):
            list(store.list())
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_unknown_profile_is_access_denied() -> None:
    with pytest.raises(AccessDenied, match="profile 'no-such-profile' does not exist"):
        open_store("s3://bucket/x", S3Settings(profile="no-such-profile"))
