"""Typed errors whose text is one line that says what went wrong and what to do.

Every error an operator can cause derives from `LogcacheError` (defined in
`state.errors`, so that `state`, which imports nothing of `logcache`, shares it). The CLI
prints `logcache: <one_line()>` and exits 2; nothing that bad input can cause may
surface as a traceback.
"""

import re

from state.errors import LogcacheError

__all__ = [
    "MISSING_PATH_PREFIX",
    "AccessDenied",
    "BucketNotFound",
    "CannotCheckHere",
    "ConfigError",
    "CorruptData",
    "EndpointUnreachable",
    "LogcacheError",
    "PathNotFound",
    "ReadInterrupted",
    "StorageError",
    "UnknownDataset",
    "UsageError",
    "describe",
    "first_line",
    "missing_path",
    "missing_paths",
]

# Spark's words for a prefix that is not there. Copy, discovery and validation report a
# missing path with them, so an operator can paste the URL after them into `copy --only`
# and the failed-path ledger can take the URL back out.
MISSING_PATH_PREFIX = "Path does not exist: "


def missing_path(url: str) -> str:
    """The message for a prefix or object that is not there."""
    return f"{MISSING_PATH_PREFIX}{url}"


# The URL after the prefix: up to a space, a quote or a separator. Spark ends the
# message with ";" (`Path does not exist: s3a://bucket/cache/ID;`), and a log may quote
# the URL or list several in one line; a key's own characters stay as written (`%20`).
_MISSING_URL = re.compile(re.escape(MISSING_PATH_PREFIX) + r"""['"`]?([^\s'"`;,]+)""")
_TRAILING = ".:)]}>"


def missing_paths(text: str) -> list[str]:
    """Every URL named by a `missing_path` message (ours or Spark's) in `text`, in order,
    each once: a job's whole log, one result row's error, or a finding's message."""
    urls = (m.group(1).rstrip(_TRAILING) for m in _MISSING_URL.finditer(text))
    return list(dict.fromkeys(url for url in urls if url))


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (library messages can run to many), or its
    class name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def describe(exc: BaseException) -> str:
    """`<ClassName>: <first line>`: an unexpected exception (a bug) as one line; the class
    name is what a bug report needs. Errors an operator caused use `one_line()` instead."""
    return f"{type(exc).__name__}: {first_line(exc)}"


class UsageError(LogcacheError):
    """A bad argument or a bad combination of arguments."""


class ConfigError(LogcacheError):
    """The campaign file is missing, malformed or inconsistent."""


class StorageError(LogcacheError):
    """A storage operation failed for a reason other than the ones below."""


class PathNotFound(StorageError):
    """The object or prefix does not exist. The message is the URL itself."""

    @property
    def url(self) -> str:
        return str(self)

    def one_line(self) -> str:
        return missing_path(self.url)


class AccessDenied(StorageError):
    """The credentials in use may not do this."""


class BucketNotFound(StorageError):
    """The bucket does not exist at this endpoint."""


class EndpointUnreachable(StorageError):
    """No S3 server answered at the configured endpoint."""


class ReadInterrupted(StorageError):
    """A body kept arriving cut short (a dropped connection, a reset, a read timeout) on
    every attempt: the bytes were never all seen, so nothing can be said about them."""


class JobRefused(LogcacheError):
    """A validation job exited 2: its environment refused it (credentials denied or
    expired, a full or unwritable results store, a bad argument). Every job shares that
    environment, so the run stops at once on it, like the in-process backends do."""


class CorruptData(LogcacheError):
    """A Parquet or Avro file could not be read as such."""


class CannotCheckHere(LogcacheError):
    """The bytes were read but this installation cannot decode them (an Avro codec whose
    library is missing): nothing is known about the data, which may well be fine."""


class UnknownDataset(LogcacheError):
    """A dataset name that the campaign does not know."""
