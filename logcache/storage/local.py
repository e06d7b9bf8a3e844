"""Local-directory storage: the embedded default, so everything runs on a fresh machine."""

from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from logcache.errors import AccessDenied, PathNotFound, StorageError
from logcache.storage.base import ObjectInfo, Store, StoreUnwritable
from state.lock import pid_alive

TMP_PREFIX = ".logcache-tmp-"
# Errors that say the whole store takes no writes, not just this object.
_UNWRITABLE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove `.logcache-tmp-<pid>-...` files whose process is gone (and unnamed ones a
    day old): whatever wrote them can no longer rename them into place."""
    with os.scandir(folder) as it:
        for entry in it:
            if not entry.name.startswith(TMP_PREFIX) or not entry.is_file(follow_symlinks=False):
                continue
            pid = entry.name[len(TMP_PREFIX):].split("-", 1)[0]
            stale = not pid_alive(int(pid)) if pid.isdigit() else time.time() - entry.stat().st_mtime > 86_400
            if stale:
                Path(entry.path).unlink(missing_ok=True)


class LocalStore:
    def __init__(self, root: Path, durable: bool = True) -> None:
        self.root = root.resolve()
        # Each write synced to disk before its rename; off only for data that can be built
        # again (a demo world being generated), where it is a third of the build's time.
        self.durable = durable
        # Folders already swept of dead processes' temp files (shared with children).
        self._swept: set[Path] = set()

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def url_of(self, key: str) -> str:
        return self._path(key).as_uri() if key else self.url

    def child(self, prefix: str) -> LocalStore:
        child = LocalStore(self._path(prefix), self.durable)
        child._swept = self._swept
        return child

    def _path(self, key: str) -> Path:
        key = key.strip("/")
        if any(part in ("..", ".") for part in key.split("/")):
            raise StorageError(f"invalid key {key!r}: keys may not contain '.' or '..' parts")
        return self.root / key if key else self.root

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self._path(prefix)
        if base.is_file():
            yield self._info(base)
            return
        if not base.is_dir():
            return
        # Sorted walk so listings compare equal to S3's lexicographic order.
        stack = [base]
        found: list[Path] = []
        while stack:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file() and not entry.name.startswith(".logcache-tmp-"):
                        found.append(Path(entry.path))
        for path in sorted(found, key=lambda p: p.relative_to(self.root).as_posix()):
            yield self._info(path)

    def _info(self, path: Path) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(path.relative_to(self.root).as_posix(), st.st_size, "", st.st_mtime, f"{st.st_dev}:{st.st_ino}")

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise PathNotFound(self.url_of(key))
        return self._info(path)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise PathNotFound(self.url_of(key)) from None
        except IsADirectoryError:
            raise PathNotFound(self.url_of(key)) from None
        except PermissionError:
            raise AccessDenied(f"cannot read {self.url_of(key)}: check the file's permissions") from None

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as f:
            return f.read()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with self._writing(path) as tmp, open(tmp, "wb") as f:
            f.write(data)
            self._sync(f)

    def full_checksum(self, key: str) -> str | None:
        return None  # a file system keeps no checksum: `ObjectInfo.file_id` spots the same file

    def etag_is_md5(self, key: str) -> bool:
        return True  # no ETags here: nothing to mistake for an MD5

    def copy_from(self, source: Store, source_key: str, key: str, size: int | None = None) -> None:
        path = self._path(key)
        if isinstance(source, LocalStore):
            src = source._path(source_key)
            if not src.is_file():
                raise PathNotFound(source.url_of(source_key))
            with self._writing(path) as tmp:
                try:
                    # A hard link shares the bytes; the source is never modified, so sharing
                    # is safe, and it makes local copies of large worlds instant.
                    os.link(src, tmp)
                except OSError:
                    with open(src, "rb") as inp, open(tmp, "wb") as out:
                        shutil.copyfileobj(inp, out, 8 << 20)
                        self._sync(out)
            return
        with self._writing(path) as tmp, open(tmp, "wb") as out, source.open_read(source_key) as inp:
            shutil.copyfileobj(inp, out, 8 << 20)
            self._sync(out)

    def _sync(self, f: BinaryIO) -> None:
        """The file's bytes on disk before its rename makes it visible (unless not durable)."""
        if self.durable:
            f.flush()
            os.fsync(f.fileno())

    @contextmanager
    def _writing(self, path: Path) -> Iterator[Path]:
        """A temp name beside `path`, renamed onto it when the block succeeds and removed
        when it fails. Temp files of processes that died (kill -9, a full disk that broke
        the cleanup) are removed the first time this process writes into a folder."""
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if folder not in self._swept:
                self._swept.add(folder)
                _remove_stale_temporaries(folder)
            tmp = folder / f"{TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{path.name}"
            try:
                yield tmp
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            if exc.errno in _UNWRITABLE:
                raise StoreUnwritable(
                    f"cannot write to {self.url}: {exc.strerror}; free space or fix the destination, then run again"
                ) from None
            raise StorageError(f"cannot write {path.as_uri()}: {exc.strerror or exc}") from None
