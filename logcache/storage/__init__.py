"""One storage interface over local directories and S3 (see `base.Store`).

A store is opened by its URL's scheme through `SCHEMES`, the one table of them: adding a
store is one module implementing `base.Store` plus one `Scheme` entry here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import unquote, urlparse

from logcache.errors import UsageError
from logcache.storage.base import ObjectInfo, Store
from logcache.storage.local import LocalStore
from state.config import S3Settings

__all__ = ["SCHEMES", "LocalStore", "ObjectInfo", "Scheme", "Store", "open_store", "split_url"]


@dataclass(frozen=True)
class Scheme:
    # The part of a URL `open` takes: a bucket and prefix, a folder.
    locate: Callable[[str], str]
    # (location, S3 settings, connection pool size) -> the store.
    open: Callable[[str, S3Settings, int], Store]


def _open_folder(location: str, s3: S3Settings, concurrency: int) -> Store:
    return LocalStore(Path(location).expanduser())


def _open_s3(location: str, s3: S3Settings, concurrency: int) -> Store:
    # Imported on use: boto3 costs every short command that never touches S3 its start-up.
    from logcache.storage.s3 import S3Store

    return S3Store.open(location, s3, concurrency)


SCHEMES: Mapping[str, Scheme] = MappingProxyType(
    {
        "s3": Scheme(lambda url: url[len("s3://") :].strip("/"), _open_s3),
        "file": Scheme(lambda url: unquote(urlparse(url).path), _open_folder),
    }
)


def split_url(url: str) -> tuple[str, str]:
    """(scheme, location) with scheme one of `SCHEMES`; a plain path is `file`."""
    scheme = urlparse(url).scheme
    if scheme in SCHEMES:
        return scheme, SCHEMES[scheme].locate(url)
    # A one-letter scheme is a Windows drive (`C:\\...`): a plain path.
    if scheme and len(scheme) > 1:
        uses = ", ".join(f"{name}://" for name in SCHEMES)
        raise UsageError(f"unsupported URL scheme {scheme!r} in {url}; use {uses} or a path")
    return "file", url


def open_store(url: str, s3: S3Settings | None = None, concurrency: int = 16) -> Store:
    """A store rooted at `url`. `concurrency` sizes the S3 connection pool."""
    scheme, location = split_url(url)
    return SCHEMES[scheme].open(location, s3 or S3Settings(), concurrency)
