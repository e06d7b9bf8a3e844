"""Local-directory storage: the embedded default, so everything runs on a fresh machine."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from logcache.errors import AccessDenied, PathNotFound, StorageError
from logcache.storage.base import ObjectInfo, Store


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def url_of(self, key: str) -> str:
        return self._path(key).as_uri() if key else self.url

    def child(self, prefix: str) -> LocalStore:
        return LocalStore(self._path(prefix))

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
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".logcache-tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def copy_from(self, source: Store, source_key: str, key: str, size: int | None = None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, LocalStore):
            src = source._path(source_key)
            if not src.is_file():
                raise PathNotFound(source.url_of(source_key))
            tmp = path.parent / f".logcache-tmp-{os.getpid()}-{path.name}"
            tmp.unlink(missing_ok=True)
            try:
                # A hard link shares the bytes; the source is never modified, so sharing
                # is safe, and it makes local copies of large worlds instant.
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            os.replace(tmp, path)
            return
        fd, tmp_name = tempfile.mkstemp(prefix=".logcache-tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out, source.open_read(source_key) as inp:
                shutil.copyfileobj(inp, out, 8 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
