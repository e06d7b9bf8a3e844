"""Spark's path conventions under a dataset's prefix, as Spark's and Hadoop's readers keep
them: a file or folder whose name starts with `_` or `.` is not data (`_SUCCESS`,
`_committed_*`, `.part-00000.parquet.crc`, `_temporary/`). Keys here are relative to the
dataset's prefix, so a prefix that itself starts with `_` is still read."""

from __future__ import annotations

TEMPORARY = "_temporary"


def is_data(relative_key: str) -> bool:
    """Whether a reader counts this file as the dataset's data."""
    return not any(part.startswith(("_", ".")) for part in relative_key.split("/") if part)


def is_temporary(relative_key: str) -> bool:
    """Whether the file is an unfinished (failed or speculative) task's output: a copy of
    the dataset never carries it; markers such as `_SUCCESS` and `.crc` it does carry."""
    return TEMPORARY in relative_key.split("/")
