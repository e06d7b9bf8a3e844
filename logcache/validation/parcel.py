"""Run validation units in this process: what every backend executes.

A unit is the whole tasks of one shard (its two checks share one decode of the log) or
one sub-task of a heavy shard (`plan.units`). A parcel, the command backend's job, runs
its units one after the other under its heartbeat; the local pool and Dask schedule the
units themselves, so a heavy shard's sub-tasks spread over the workers.

A unit writes only result files, never the campaign state, so it can run anywhere that
reaches the stores (a pool worker, a Dask worker, an operator's job).

Sub-tasks of one (dataset, validation) may run in different places at once. Each writes
its partial; whichever finds all its siblings present merges them into the one result
row. A rerun skips pairs with a result and parts with a partial of the current attempt,
so killed work resumes without redoing what was written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logcache.entries import CSV_NAME, CacheEntry, read_entries
from logcache.errors import LogcacheError, missing_paths
from logcache.storage import Store
from logcache.stores import open_destination, open_logs, open_results
from logcache.validation.budget import Budget, budget_of
from logcache.validation.heartbeat import HeartbeatWriter
from logcache.validation.plan import Parcel, Task, units
from logcache.validation.predict import Measurement, peak_rss, record
from logcache.validation.result import ResultRow, merge_partials, pair_attempts, read_result, result_key, utc_now, write_result
from state.config import CampaignConfig

if TYPE_CHECKING:
    from logcache.datomic.logop import TRange
    from logcache.validation.check import Job
    from logcache.validation.entities import EntityPartition


@dataclass(frozen=True)
class ParcelOutcome:
    parcel: str
    ran: int
    skipped: int
    rows: tuple[ResultRow, ...]  # whole results written (merged or not)

    @property
    def missing_paths(self) -> list[str]:
        return [url for r in self.rows if r.error_kind == "missing-path" for url in missing_paths(r.error)]


@dataclass(frozen=True)
class Stores:
    logs: Store
    destination: Store
    results: Store

    @classmethod
    def of(cls, config: CampaignConfig) -> Stores:
        return cls(open_logs(config), open_destination(config), open_results(config))


def run_parcel(
    config: CampaignConfig,
    parcel: Parcel,
    label: str,
    *,
    force: bool = False,
    on_row: Callable[[ResultRow], None] | None = None,
) -> ParcelOutcome:
    """Every unit of `parcel`, one after the other, under the parcel's heartbeat."""
    entries = read_entries(config.work_dir / CSV_NAME)
    stores = Stores.of(config)
    ran = skipped = 0
    written: list[ResultRow] = []
    every = max(0.5, min(5.0, config.validation.heartbeat_stale_s / 4))
    with HeartbeatWriter(stores.results, label, len(parcel.tasks), parcel.bytes, every) as beat:
        done = bytes_done = 0
        for unit in units(parcel.tasks):
            beat.update(task=unit[0].task_id, done=done, bytes_done=bytes_done)
            outcome = run_unit_here(stores, entries, unit, label, force, budget=budget_of(config))
            ran, skipped = ran + outcome.ran, skipped + outcome.skipped
            for row in outcome.rows:
                written.append(row)
                if on_row:
                    on_row(row)
            done, bytes_done = done + len(unit), bytes_done + sum(t.weight for t in unit)
        beat.update(done=done, bytes_done=bytes_done)
    return ParcelOutcome(label, ran, skipped, tuple(written))


def run_unit(config: CampaignConfig, entries: list[CacheEntry], unit: tuple[Task, ...], label: str, force: bool, concurrency: int = 1) -> ParcelOutcome:
    """One unit, opening the campaign's stores here: what a pool or Dask worker runs.
    `entries` are those of the unit's tasks (`unit_entries`), read once by the parent: a
    worker that read the whole entries file for each unit would cost every unit as much
    as the campaign is big. `concurrency`: units running at once on this machine."""
    return run_unit_here(Stores.of(config), entries, unit, label, force, budget=budget_of(config), concurrency=concurrency)


def unit_entries(by_key: dict[tuple[str, str], CacheEntry], unit: tuple[Task, ...]) -> list[CacheEntry]:
    """The cache entries a unit's tasks validate (a task without one is refused when it runs)."""
    return list({(t.dataset, t.kind): by_key[(t.dataset, t.kind)] for t in unit if (t.dataset, t.kind) in by_key}.values())


def run_unit_here(
    stores: Stores,
    entries: list[CacheEntry],
    unit: tuple[Task, ...],
    label: str,
    force: bool,
    readers: ThreadPoolExecutor | None = None,
    budget: Budget | None = None,
    concurrency: int = 1,
) -> ParcelOutcome:
    """`readers`: the reader pool shared with the units running beside this one; `budget`:
    the worker's memory budget, None for unbounded (`check.run_shard`); `concurrency`:
    how many units run at once on this machine, recorded with the unit's measurement."""
    # The checks' modules (Polars, pyarrow: 0.3 s a process) are imported here, not with
    # this module: a backend's parent, which only hands units out, then starts its
    # workers before paying for them.
    from logcache.validation.check import Job, run_shard

    by_key = {(e.dataset, e.kind): e for e in entries}
    jobs: list[Job] = []
    subtask_of: list[tuple[Task, int, list[TRange] | list[EntityPartition]]] = []
    skipped = 0
    for task in unit:
        entry = by_key.get((task.dataset, task.kind))
        if entry is None:
            raise LogcacheError(f"{task.name} is not in {CSV_NAME}; the plan is out of date, run `logcache discover` again")
        done = pair_attempts(stores.results, task.dataset, task.validation)
        if done.settled and not force:
            skipped += 1
            continue
        attempt = done.next
        if task.parts == 1:
            jobs.append(Job(entry, task.validation, None, attempt))
            continue
        subtasks = _subtasks(stores, entry, task)
        subtask_of.append((task, attempt, subtasks))
        if task.part < len(subtasks) and not stores.results.exists(result_key(task.dataset, task.validation, attempt, subtasks[task.part].label())):
            jobs.append(Job(entry, task.validation, subtasks[task.part], attempt))
    rows: list[ResultRow] = []
    if jobs:
        clock = time.perf_counter()
        ran = run_shard(jobs, stores.logs, stores.destination, parcel=label, readers=readers, budget=budget)
        for row in ran:
            write_result(stores.results, row)
            if not row.subtask:
                rows.append(row)
        if budget is not None:
            weight = sum(t.weight for t in unit if (t.dataset, t.validation) in {(j.entry.dataset, j.validation) for j in jobs})
            # The log check's expected rows are the datoms decoded up to T.
            datoms = max(r.rows_expected for r in ran)
            record(budget.work_dir, Measurement(label, unit[0].task_id, weight, datoms, time.perf_counter() - clock, peak_rss(), utc_now(), concurrency))
    for task, attempt, subtasks in subtask_of:
        merged = _merge_if_complete(stores.results, task, attempt, subtasks)
        if merged is not None:
            rows.append(merged)
    return ParcelOutcome(label, len(jobs), skipped, tuple(rows))


def _subtasks(stores: Stores, entry: CacheEntry, task: Task) -> list[TRange] | list[EntityPartition]:
    from logcache.datomic.logop import TRange
    from logcache.validation.entities import EntityPartition
    from logcache.validation.log import split_log

    if entry.kind != "log":
        return [EntityPartition(i, task.parts) for i in range(task.parts)]
    try:
        return split_log(stores.logs, entry.dataset, task.parts, entry.t)
    except LogcacheError:
        # The log cannot be listed: one part runs it whole and reports why in its row.
        return [TRange()]


def _merge_if_complete(results: Store, task: Task, attempt: int, subtasks: list[TRange] | list[EntityPartition]) -> ResultRow | None:
    keys = [result_key(task.dataset, task.validation, attempt, s.label()) for s in subtasks]
    if not all(results.exists(k) for k in keys):
        return None
    parts = [row for k in keys for row in read_result(results, k)]
    # The merged row keeps the first part's parcel, whoever merges: the same on every backend.
    row = merge_partials(parts)
    write_result(results, row)
    return row
