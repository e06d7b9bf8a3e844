"""Which entries to copy, and per object: skip, copy or conflict."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from logcache.copy.events import Conflict, DatasetPlan
from logcache.entries import CacheEntry, last_part, normal_url
from logcache.storage import ObjectInfo, Store
from logcache.storage.spark import is_temporary

READ_CHUNK = 1 << 20


def prefix_in(store: Store, url: str) -> str:
    """The key of `url` under `store`: its path below the store's root, else its last part.

    Discovery writes URLs under the stores' roots; the last part (the cache id) is the
    fallback for an entries file written against another mount of the same buckets.
    """
    root = normal_url(store.url) + "/"
    url = normal_url(url)
    return url[len(root):] if url.startswith(root) else last_part(url)


def under(objects: Iterable[ObjectInfo], prefix: str) -> dict[str, ObjectInfo]:
    """Objects below `prefix` (as a folder: `id` must not match `id2/...`), by relative key."""
    start = prefix + "/"
    return {o.key[len(start):]: o for o in objects if o.key.startswith(start)}


def to_copy(source: Store, prefix: str) -> dict[str, ObjectInfo]:
    """The source objects a copy of `prefix` carries, by relative key: Spark's markers
    (`_SUCCESS`, `.crc`) too, an unfinished task's `_temporary/` output never."""
    return {rel: o for rel, o in under(source.list(prefix), prefix).items() if not is_temporary(rel)}


def comparable_etag(etag: str) -> bool:
    # A multipart ETag (`md5-of-parts-N`) depends on how the object was uploaded, and a
    # local file has none: only two plain MD5 ETags say anything about content.
    return bool(etag) and "-" not in etag


def content_digest(store: Store, key: str) -> str:
    """SHA-256 of the object's bytes, read from the store."""
    digest = hashlib.sha256()
    with store.open_read(key) as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def content_equal(source: Store, a: ObjectInfo, destination: Store, b: ObjectInfo) -> bool:
    """True only when `b` is shown to hold `a`'s bytes: the same file (a hard link), equal
    single-part ETags (MD5s, or the same opaque ETag), equal full-object checksums of one
    algorithm, or else equal SHA-256s of both sides' bytes as read. Equal sizes alone
    prove nothing, and neither do unequal ETags that are not both MD5s (SSE-KMS, SSE-C)."""
    if a.size != b.size:
        return False
    if a.file_id and a.file_id == b.file_id:
        return True
    # Equal opaque ETags (SSE-KMS, SSE-C) still name one object's bytes; unequal ones
    # prove a difference only when both are MD5s.
    both = comparable_etag(a.etag) and comparable_etag(b.etag)
    if both and (a.etag == b.etag or (source.etag_is_md5(a.key) and destination.etag_is_md5(b.key))):
        return a.etag == b.etag
    if a.etag or b.etag:  # an S3 side: a checksum the server keeps saves reading the bytes
        ours, theirs = source.full_checksum(a.key), destination.full_checksum(b.key)
        if ours and theirs and ours.split(":", 1)[0] == theirs.split(":", 1)[0]:
            return ours == theirs
    return content_digest(source, a.key) == content_digest(destination, b.key)


@dataclass(frozen=True)
class ObjectCopy:
    source_key: str
    destination_key: str
    size: int


@dataclass
class EntryPlan:
    entry: CacheEntry
    source_prefix: str
    destination_prefix: str
    source: dict[str, ObjectInfo]
    copies: list[ObjectCopy] = field(default_factory=list)
    present: int = 0
    conflicts: list[Conflict] = field(default_factory=list)

    def summary(self) -> DatasetPlan:
        return DatasetPlan(
            name=self.entry.name,
            source_url=self.entry.source,
            destination_url=self.entry.destination,
            objects=len(self.source),
            bytes=sum(o.size for o in self.source.values()),
            objects_to_copy=len(self.copies),
            bytes_to_copy=sum(c.size for c in self.copies),
            objects_present=self.present,
            conflicts=len(self.conflicts),
        )


def plan_entry(entry: CacheEntry, source: Store, destination: Store, overwrite: bool) -> EntryPlan:
    """List both sides of one entry and decide each object's fate."""
    src_prefix = prefix_in(source, entry.source)
    dst_prefix = prefix_in(destination, entry.destination)
    src = to_copy(source, src_prefix)
    plan = EntryPlan(entry, src_prefix, dst_prefix, src)
    if not src:
        return plan
    dst = under(destination.list(dst_prefix), dst_prefix)
    for rel, obj in src.items():
        there = dst.get(rel)
        if there is not None and content_equal(source, obj, destination, there):
            plan.present += 1
            continue
        if there is not None:
            plan.conflicts.append(
                Conflict(
                    source.url_of(obj.key),
                    destination.url_of(there.key),
                    obj.size,
                    there.size,
                    obj.etag,
                    there.etag,
                )
            )
            if not overwrite:
                continue
        plan.copies.append(ObjectCopy(obj.key, f"{dst_prefix}/{rel}", obj.size))
    if plan.conflicts and not overwrite:
        plan.copies = []  # a conflicting dataset is left untouched: nothing of it is to copy
    return plan
