"""Lists and copies sent without boto3, against rclone's S3 server on loopback, over HTTP
and over TLS with a CA bundle of our own: unlike moto, it checks every SigV4 signature, so
a request signed wrong is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.servers import rclone_server

from logcache.errors import AccessDenied
from logcache.storage import open_store
from logcache.storage.s3 import S3Store
from state.config import S3Settings

# Keys that need escaping in the canonical request and the copy source.
KEYS = ["cache/id1/part-0.parquet", "cache/id1/a b+c=d&e~f.parquet", "cache/id1/ünï/çødé.parquet", "cache/id1/sub/x%20y.parquet"]


@dataclass(frozen=True)
class Server:
    endpoint: str
    bucket_dir: Path
    ca_bundle: str | None


@pytest.fixture(scope="module", params=["http", "https"])
def rclone_s3(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("rclone")
    (root / "bucket").mkdir()
    tls: list[str] = []
    ca_bundle = None
    if request.param == "https":
        cert, key = root / "cert.pem", root / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )
        tls, ca_bundle = ["--cert", str(cert), "--key", str(key)], str(cert)
    with rclone_server(root, tls) as (_, port):
        yield Server(f"{request.param}://127.0.0.1:{port}", root / "bucket", ca_bundle)


def _store(server: Server, monkeypatch: pytest.MonkeyPatch, secret: str = "rcsecret") -> S3Store:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "rcaccess")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    if server.ca_bundle:
        monkeypatch.setenv("AWS_CA_BUNDLE", server.ca_bundle)
    store = open_store("s3://bucket", S3Settings(endpoint_url=server.endpoint, region="us-east-1", max_attempts=1))
    assert isinstance(store, S3Store) and store.direct is not None
    return store


def test_signed_lists_and_copies_are_accepted(rclone_s3: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket_dir = rclone_s3.bucket_dir
    for i, key in enumerate(KEYS):
        (bucket_dir / key).parent.mkdir(parents=True, exist_ok=True)
        (bucket_dir / key).write_bytes(f"object {i}".encode() * 50)
    store = _store(rclone_s3, monkeypatch)
    assert store.direct is not None

    first = store.direct.list_page("cache/id1/", None, 2)
    assert first is not None and len(first.objects) == 2 and first.next_token
    listed = list(store.child("cache").list("id1"))
    assert sorted(o.key for o in listed) == sorted(k.removeprefix("cache/") for k in KEYS)

    for key in KEYS:
        assert store.direct.copy(key.replace("cache/", "permanent/", 1), "bucket", key)
    for key in KEYS:
        assert (bucket_dir / key.replace("cache/", "permanent/", 1)).read_bytes() == (bucket_dir / key).read_bytes()
    assert store.direct.enabled


def test_a_wrong_secret_is_refused_and_reported_as_access_denied(rclone_s3: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(rclone_s3, monkeypatch, secret="not-the-secret")
    assert store.direct is not None
    assert store.direct.list_page("cache/", None, 10) is None
    assert not store.direct.copy("permanent/x.parquet", "bucket", KEYS[0])
    with pytest.raises(AccessDenied, match="access denied"):
        list(store.list("cache"))
