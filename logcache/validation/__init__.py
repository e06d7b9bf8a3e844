"""Runbook step 5 (validate in parcels) and step 6 (aggregate), in one package.

Where each part lives:
- `plan`: the work as tasks (a pair, or a sub-task of a heavy one) packed into parcels.
- `parcel`: one parcel run in this process, the unit every backend executes.
- `backends`: where parcels run: a local process pool, Dask, or the operator's command.
- `heartbeat`: a running parcel's `status/<parcel>.json`, written and read.
- `orchestrate`: the parent's side: start the parcels, watch heartbeats, gather results.
- `check`: one validation of one cache entry (or one sub-task of it) into a result row.
- `log`, `entities`, `checksum`: the two checks and the checksum-then-narrow comparison.
- `result`: result rows, their files, partials and their merge.
- `aggregate`: every result into one `cache-validations` dataset and its summary.
"""

from logcache.datomic.logop import TRange
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
from logcache.validation.check import KIND_OF, run_validation

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
