"""Typed errors whose text is one line that says what went wrong and what to do.

Every error an operator can cause derives from `LogcacheError` (defined in
`state.errors`, so that `state`, which imports nothing of `logcache`, shares it). The CLI
prints `logcache: <one_line()>` and exits 2; nothing that bad input can cause may
surface as a traceback.
"""

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
    "missing_path_url",
]

# Spark's words for a prefix that is not there. Copy, discovery and validation report a
# missing path with them, so an operator can paste the URL after them into `copy --only`
# and the failed-path ledger can take the URL back out.
MISSING_PATH_PREFIX = "Path does not exist: "


def missing_path(url: str) -> str:
    """The message for a prefix or object that is not there."""
    return f"{MISSING_PATH_PREFIX}{url}"


def missing_path_url(message: str) -> str | None:
    """The URL of a `missing_path` message, or None for any other message."""
    return message.removeprefix(MISSING_PATH_PREFIX) if message.startswith(MISSING_PATH_PREFIX) else None


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


class CorruptData(LogcacheError):
    """A Parquet or Avro file could not be read as such."""


class CannotCheckHere(LogcacheError):
    """The bytes were read but this installation cannot decode them (an Avro codec whose
    library is missing): nothing is known about the data, which may well be fine."""


class UnknownDataset(LogcacheError):
    """A dataset name that the campaign does not know."""
