"""Runbook step 5 (validate in parcels) and step 6 (aggregate), in one package.

Where each part lives:
- `plan`: the work as tasks (a pair, or a t-range sub-task of a heavy log) packed into
  parcels, and grouped into units (a shard's whole tasks, or one sub-task).
- `parcel`: running units in this process: one unit (what a pool or Dask worker runs),
  or a whole parcel under its heartbeat (what a command-backend job runs).
- `backends/`: where units run: this process or a local process pool, Dask, or the
  operator's command (one job per parcel); one module each, chosen by name only in
  `backends/registry.py`.
- `jobs`: the command backend's asynchronous submitter and its parcels' job records.
- `orphans`: pool workers die with their parent, even on SIGKILL.
- `heartbeat`: a running parcel's `status/<parcel>.json`, written and read.
- `orchestrate`: the parent's side: start the parcels, watch heartbeats, gather results.
- `check`: the validations of one shard (or a sub-task) into result rows.
- `scan`: one decode of a shard's log segments feeding every check of the shard.
- `log`, `entities`, `checksum`: the two checks and the checksum-then-narrow comparison.
- `budget`, `spill`: a worker's memory budget; a heavy entities check in partitions, spilled.
- `predict`: what each unit measured, and the plan's predictions per parcel from it.
- `result`: result rows, their files, partials and their merge.
- `aggregate`: every result into one `cache-validations` dataset and its summary.
- `detail`: one result in full (`logcache show`, the app's detail screen).
"""

from logcache.datomic.logop import TRange
from logcache.validation.check import KIND_OF, run_validation
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
