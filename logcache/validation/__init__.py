"""Validation of cache entries: log-validation and materialized-entities-validation.

`run_validation` is the unit a task runner calls, per (dataset, validation) or per
sub-task (`TRange` for a log, `EntityPartition` for materialized entities); partial rows
of one pair merge with `merge_partials`.
"""

from logcache.logop import TRange
from logcache.validation.entities import EntityPartition
from logcache.validation.log import split_log
from logcache.validation.result import (
    ERROR_KINDS,
    RESULT_SCHEMA,
    ResultRow,
    attempts,
    has_result,
    latest_results,
    merge_partials,
    read_result,
    read_results,
    result_key,
    write_result,
)
from logcache.validation.run import KIND_OF, run_validation

__all__ = [
    "ERROR_KINDS",
    "KIND_OF",
    "RESULT_SCHEMA",
    "EntityPartition",
    "ResultRow",
    "TRange",
    "attempts",
    "has_result",
    "latest_results",
    "merge_partials",
    "read_result",
    "read_results",
    "result_key",
    "run_validation",
    "split_log",
    "write_result",
]
