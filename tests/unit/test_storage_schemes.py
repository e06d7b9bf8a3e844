"""Stores opened through the scheme table, and every store answering the whole `Store`
protocol (its optional full-object checksum included) rather than being probed."""

from __future__ import annotations

from pathlib import Path

import pytest

from logcache.catalog.documents import _Listing
from logcache.copy.plan import content_equal
from logcache.demo.lifecycle import ExpiringStore
from logcache.errors import UsageError
from logcache.storage import SCHEMES, LocalStore, open_store, split_url
from logcache.storage.base import Store
from logcache.storage.s3 import S3Store

MEMBERS = [name for name in vars(Store) if not name.startswith("_")]


def test_the_protocol_declares_the_optional_checksum() -> None:
    assert "full_checksum" in MEMBERS and "copy_from" in MEMBERS


@pytest.mark.parametrize("store_class", [LocalStore, S3Store, ExpiringStore, _Listing])
def test_every_store_implements_every_member_of_the_protocol(store_class: type) -> None:
    assert [name for name in MEMBERS if not callable(getattr(store_class, name, None)) and not isinstance(getattr(store_class, name, None), property)] == []


def test_urls_open_through_the_scheme_table(tmp_path: Path) -> None:
    assert set(SCHEMES) == {"s3", "file"}
    assert split_url("s3://bucket/some/prefix/") == ("s3", "bucket/some/prefix")
    assert split_url((tmp_path / "a b").as_uri()) == ("file", str(tmp_path / "a b"))
    assert split_url("relative/dir") == ("file", "relative/dir")
    store = open_store((tmp_path / "dst").as_uri())
    assert isinstance(store, LocalStore) and store.root == (tmp_path / "dst").resolve()
    with pytest.raises(UsageError) as refused:
        open_store("gs://bucket/x")
    assert refused.value.one_line() == "unsupported URL scheme 'gs' in gs://bucket/x; use s3://, file:// or a path"


def test_a_folder_keeps_no_checksum_so_equal_sizes_are_compared_by_their_bytes(tmp_path: Path) -> None:
    source, destination = open_store(str(tmp_path / "src")), open_store(str(tmp_path / "dst"))
    source.write_bytes("k", b"abc")
    destination.write_bytes("k", b"abd")
    assert source.full_checksum("k") is None
    assert not content_equal(source, source.stat("k"), destination, destination.stat("k"))
    destination.write_bytes("k", b"abc")
    assert content_equal(source, source.stat("k"), destination, destination.stat("k"))
