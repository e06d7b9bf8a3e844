"""Typed errors whose text is one line that says what went wrong and what to do.

The CLI prints `<ClassName>: <message>` and exits 2 for every `LogcacheError`; nothing
that an operator can cause by bad input may surface as a traceback.
"""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (library messages can run to many), or its
    class name when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def describe(exc: BaseException) -> str:
    """`<ClassName>: <first line>`: any exception as one line."""
    return f"{type(exc).__name__}: {first_line(exc)}"


class LogcacheError(Exception):
    """Base of every error caused by input or environment, not by a bug."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    def one_line(self) -> str:
        return f"{type(self).__name__}: {self}"


class UsageError(LogcacheError):
    """A bad argument or a bad combination of arguments."""


class ConfigError(LogcacheError):
    """The campaign file is missing, malformed or inconsistent."""


class StorageError(LogcacheError):
    """A storage operation failed for a reason other than the ones below."""


class PathNotFound(StorageError):
    """The object or prefix does not exist. The message is the URL itself."""


class AccessDenied(StorageError):
    """The credentials in use may not do this."""


class BucketNotFound(StorageError):
    """The bucket does not exist at this endpoint."""


class EndpointUnreachable(StorageError):
    """No S3 server answered at the configured endpoint."""


class CorruptData(LogcacheError):
    """A Parquet or Avro file could not be read as such."""


class UnknownDataset(LogcacheError):
    """A dataset name that the campaign does not know."""
