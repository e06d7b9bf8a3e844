"""The storage interface shared by local directories and S3.

A `Store` is rooted at a URL (`file:///abs/dir`, a plain path, or `s3://bucket/prefix`);
keys are `/`-separated and relative to that root. There is deliberately no delete.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from logcache.errors import StorageError


class StoreUnwritable(StorageError):
    """The store takes no writes at all (full disk, quota, file size limit, read-only):
    not one object's failure, so a run stops at the first one."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    # S3 ETag (quotes stripped) or, for local files, "" because hashing every file
    # on each listing would cost more than the copy it is meant to save.
    etag: str
    mtime: float
    # For local files, `<device>:<inode>`: two names of one file hold the same bytes, which
    # proves a hard-linked copy equal without reading it. "" elsewhere.
    file_id: str = ""


class Store(Protocol):
    @property
    def url(self) -> str:
        """The root URL, without a trailing slash."""

    def url_of(self, key: str) -> str:
        """The full URL of a key under this store."""

    def child(self, prefix: str) -> Store:
        """A store rooted at `prefix` under this one."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under `prefix`, recursively, paginated lazily, sorted by key."""

    def stat(self, key: str) -> ObjectInfo:
        """One object's info; raises PathNotFound."""

    def exists(self, key: str) -> bool: ...

    def open_read(self, key: str) -> BinaryIO:
        """A seekable binary reader (usable by pyarrow, polars and fastavro)."""

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write an object atomically: readers see the old object or the new one."""

    def copy_from(self, source: Store, source_key: str, key: str, size: int | None = None) -> None:
        """Copy one object from `source` to `key` here (server-side where possible)."""

    def full_checksum(self, key: str) -> str | None:
        """An optional capability: `<ALGORITHM>:<value>` of a checksum of the whole object
        that the store keeps (S3's additional checksums), or None where it keeps none (a
        local folder). Two stores' checksums of one algorithm prove equal bytes without
        reading them."""

    def etag_is_md5(self, key: str) -> bool:
        """Whether the object's single-part ETag is the MD5 of its bytes: not so under
        S3's SSE-KMS or SSE-C, whose ETags are opaque and differ for a copy. True where the
        store has no ETags at all (they are then "", never compared)."""
