"""A simulated lifecycle rule for demo worlds: the `missing-copy` fault.

In production a copied prefix sometimes vanishes from the permanent bucket after the copy
(an outside process, a misconfigured lifecycle rule); validation then fails with
a missing path (`s3a://<bucket>/cache/<id>`) and the operator copies that prefix again.
`ExpiringStore` wraps the destination store and replays that story deterministically
for the cache ids of the demo world's `missing-copy` faults (its `truth.json`). It plugs in from here: `rehearse()` names
`wrap_destination` in the environment variable that `logcache.stores` honours
(`LOGCACHE_DESTINATION_WRAPPER`), so the production path imports nothing of the demo and
a campaign without the rules file is never wrapped. Building a world with that fault
turns the rehearsal on for the building process and its children (the tests, `logcache
demo`); a later shell sets the variable itself:

    export LOGCACHE_DESTINATION_WRAPPER=logcache.demo.lifecycle:wrap_destination

The story:

1. copy lists the destination prefix before copying: it is empty, nothing is recorded;
2. copy verifies by listing the prefix: objects are there, so the id is marked `seen`;
3. the next listing of that prefix (validation's) first removes its objects from the
   underlying store, marks the id `expired`, and returns the now-empty listing, so
   validation reports the path as missing;
4. the re-copy lists (empty), copies, verifies, and from then on nothing expires again.

Marks are files in `marker_dir` (`<id>.seen`, `<id>.expired`), so the sequence survives
process restarts and is shared by the copy and validation processes. Removal goes
through a demo-only helper: the `Store` protocol has no delete, on purpose.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from logcache.errors import ConfigError
from logcache.storage import LocalStore, ObjectInfo, Store
from logcache.stores import DESTINATION_WRAPPER_ENV
from state.config import CampaignConfig

MARKER_DIR = ".demo-lifecycle"  # under the campaign's work dir
TRUTH_FILE = "truth.json"  # next to the demo world's campaign.toml


def expiring_ids(config: CampaignConfig) -> tuple[str, ...]:
    """The cache ids of the campaign's lifecycle rule: its world's `missing-copy` faults
    as `truth.json` records them; none for a campaign that is not a demo world."""
    path = config.path.parent / TRUTH_FILE
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
        return tuple(sorted(str(f["cache_id"]) for f in truth["faults"] if f["kind"] == "missing-copy"))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a demo world's record ({exc}); rebuild the demo world or move the file away") from None


def wrap_destination(store: Store, config: CampaignConfig) -> Store:
    """The destination of a demo campaign with a lifecycle rule, else `store` itself."""
    ids = expiring_ids(config)
    return ExpiringStore(store, ids, config.work_dir / MARKER_DIR) if ids else store


def rehearse() -> None:
    """Wrap the destinations this process and its children open (see the module doc)."""
    os.environ[DESTINATION_WRAPPER_ENV] = f"{__name__}:{wrap_destination.__name__}"


class ExpiringStore:
    def __init__(self, inner: Store, ids: tuple[str, ...], marker_dir: Path, _offset: str = "") -> None:
        self.inner = inner
        self.ids = tuple(ids)
        self.marker_dir = Path(marker_dir)
        # Keys of `inner` are relative to this offset under the destination root, where
        # cache ids are the first path component.
        self._offset = _offset.strip("/")

    @property
    def url(self) -> str:
        return self.inner.url

    def url_of(self, key: str) -> str:
        return self.inner.url_of(key)

    def child(self, prefix: str) -> ExpiringStore:
        return ExpiringStore(self.inner.child(prefix), self.ids, self.marker_dir, self._full(prefix))

    def _full(self, key: str) -> str:
        return "/".join(p for p in (self._offset, key.strip("/")) if p)

    def _doomed_under(self, prefix: str) -> list[str]:
        """Doomed ids whose objects a listing of `prefix` would include."""
        full = self._full(prefix)
        return [i for i in self.ids if not full or full == i or full.startswith(i + "/") or (i + "/").startswith(full + "/")]

    def _mark(self, cache_id: str, state: str) -> Path:
        return self.marker_dir / f"{cache_id}.{state}"

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        doomed = [i for i in self._doomed_under(prefix) if not self._mark(i, "expired").exists()]
        if not doomed:
            yield from self.inner.list(prefix)
            return
        for cache_id in doomed:
            if self._mark(cache_id, "seen").exists():
                _remove_prefix(self.inner, self._relative(cache_id))
                self._touch(cache_id, "expired")
        found = list(self.inner.list(prefix))
        for cache_id in doomed:
            rel = self._relative(cache_id)
            if not self._mark(cache_id, "expired").exists() and any(_under(o.key, rel) for o in found):
                self._touch(cache_id, "seen")
        yield from found

    def _relative(self, cache_id: str) -> str:
        """The id's prefix as a key of `inner` ("" when inner is rooted inside it)."""
        if not self._offset:
            return cache_id
        if cache_id.startswith(self._offset + "/"):
            return cache_id[len(self._offset) + 1 :]
        return ""

    def _touch(self, cache_id: str, state: str) -> None:
        self.marker_dir.mkdir(parents=True, exist_ok=True)
        self._mark(cache_id, state).touch()

    def stat(self, key: str) -> ObjectInfo:
        return self.inner.stat(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def open_read(self, key: str) -> BinaryIO:
        return self.inner.open_read(key)

    def read_bytes(self, key: str) -> bytes:
        return self.inner.read_bytes(key)

    def write_bytes(self, key: str, data: bytes) -> None:
        self.inner.write_bytes(key, data)

    def copy_from(self, source: Store, source_key: str, key: str, size: int | None = None) -> None:
        self.inner.copy_from(source, source_key, key, size)

    def full_checksum(self, key: str) -> str | None:
        return self.inner.full_checksum(key)

    def etag_is_md5(self, key: str) -> bool:
        return self.inner.etag_is_md5(key)


def _under(key: str, prefix: str) -> bool:
    return not prefix or key == prefix or key.startswith(prefix + "/")


def _remove_prefix(store: Store, prefix: str) -> None:
    """Demo-only removal of every object under `prefix`, as a lifecycle rule would."""
    keys = [o.key for o in store.list(prefix) if _under(o.key, prefix)]
    if isinstance(store, LocalStore):
        for key in keys:
            (store.root / key).unlink(missing_ok=True)
        return
    # S3: the store's own boto3 client, bucket and key prefix.
    client = getattr(store, "client", None)
    if client is None:
        raise TypeError(f"the demo lifecycle rule cannot remove objects from {store.url}")
    parsed = urlparse(store.url)
    root = parsed.path.strip("/")
    for start in range(0, len(keys), 1000):
        batch = [{"Key": "/".join(p for p in (root, k) if p)} for k in keys[start : start + 1000]]
        client.delete_objects(Bucket=parsed.netloc, Delete={"Objects": batch, "Quiet": True})
