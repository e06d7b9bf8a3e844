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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Every command imports some part of this package (the runbook's events, the status), and
# the checks pull in Polars, Arrow and fastavro: the names below are loaded on first use,
# so a command that never validates does not pay for them at start-up.
_HOME = {
    "TRange": "logcache.datomic.logop",
    "KIND_OF": "logcache.validation.result",
    "run_validation": "logcache.validation.check",
    "EntityPartition": "logcache.validation.entities",
    "split_log": "logcache.validation.log",
    **dict.fromkeys(
        (
            "ERROR_KINDS", "ResultRow", "attempts", "has_result", "latest_results", "merge_partials",
            "read_result", "read_results", "result_key", "write_result",
        ),
        "logcache.validation.result",
    ),
}

if TYPE_CHECKING:
    from logcache.datomic.logop import TRange
    from logcache.validation.check import run_validation
    from logcache.validation.entities import EntityPartition
    from logcache.validation.log import split_log
    from logcache.validation.result import (
        ERROR_KINDS,
        KIND_OF,
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


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "ERROR_KINDS",
    "KIND_OF",
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
