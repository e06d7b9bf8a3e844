"""One storage interface over local directories and S3 (see `base.Store`)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from logcache.errors import UsageError
from logcache.storage.base import ObjectInfo, Store
from logcache.storage.local import LocalStore
from state.config import S3Settings

__all__ = ["ObjectInfo", "Store", "LocalStore", "open_store", "split_url"]


def split_url(url: str) -> tuple[str, str]:
    """(scheme, rest) with scheme `s3` or `file`; plain paths are `file`."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return "s3", url[len("s3://"):].strip("/")
    if parsed.scheme == "file":
        return "file", unquote(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:
        raise UsageError(f"unsupported URL scheme {parsed.scheme!r} in {url}; use s3://, file:// or a path")
    return "file", url


def open_store(url: str, s3: S3Settings | None = None, concurrency: int = 16) -> Store:
    """A store rooted at `url`. `concurrency` sizes the S3 connection pool."""
    scheme, rest = split_url(url)
    if scheme == "file":
        return LocalStore(Path(rest).expanduser())
    from logcache.storage.s3 import S3Store

    return S3Store.open(rest, s3 or S3Settings(), concurrency)
