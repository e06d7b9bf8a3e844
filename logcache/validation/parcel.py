"""Run one parcel's validation tasks in this process: the unit every backend executes.

A parcel writes only result files and its heartbeat, never the campaign state, so it can
run anywhere that reaches the stores (a pool worker, a Dask worker, an operator's job).

Sub-tasks of one (dataset, validation) may run in different parcels at once. Each writes
its partial; whichever finds all its siblings present merges them into the one result
row. A rerun skips pairs with a result and parts with a partial of the current attempt,
so killed work resumes without redoing what was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from logcache.entries import CSV_NAME, CacheEntry, read_entries
from logcache.errors import LogcacheError
from logcache.validation.heartbeat import HeartbeatWriter
from logcache.datomic.logop import TRange
from logcache.validation.plan import Parcel, Task
from logcache.storage import Store
from logcache.stores import open_destination, open_logs, open_results
from logcache.validation import EntityPartition, ResultRow, attempts, merge_partials, read_result, result_key, run_validation, split_log, write_result
from state.config import CampaignConfig

MISSING_PATH_PREFIX = "Path does not exist: "


@dataclass(frozen=True)
class ParcelOutcome:
    parcel: str
    ran: int
    skipped: int
    rows: tuple[ResultRow, ...]  # whole results this parcel wrote (merged or not)

    @property
    def missing_paths(self) -> list[str]:
        return [r.error.removeprefix(MISSING_PATH_PREFIX) for r in self.rows if r.error_kind == "missing-path"]


@dataclass(frozen=True)
class _Context:
    logs: Store
    destination: Store
    results: Store
    parcel: str
    force: bool


def run_parcel(
    config: CampaignConfig,
    parcel: Parcel,
    label: str,
    *,
    force: bool = False,
    on_row: Callable[[ResultRow], None] | None = None,
) -> ParcelOutcome:
    entries = {(e.dataset, e.kind): e for e in read_entries(config.work_dir / CSV_NAME)}
    results = open_results(config)
    ctx = _Context(open_logs(config), open_destination(config), results, label, force)
    ran = skipped = 0
    written: list[ResultRow] = []
    every = max(0.5, min(5.0, config.validation.heartbeat_stale_s / 4))
    with HeartbeatWriter(results, label, len(parcel.tasks), parcel.bytes, every) as beat:
        bytes_done = 0
        for done, task in enumerate(parcel.tasks):
            beat.update(task=task.task_id, done=done, bytes_done=bytes_done)
            entry = entries.get((task.dataset, task.kind))
            if entry is None:
                raise LogcacheError(f"{task.name} is not in {CSV_NAME}; the plan is out of date, run `logcache discover` again")
            row, computed = _run_task(ctx, entry, task)
            ran, skipped = ran + computed, skipped + (not computed)
            if row is not None:
                written.append(row)
                if on_row:
                    on_row(row)
            bytes_done += task.weight
        beat.update(done=len(parcel.tasks), bytes_done=bytes_done)
    return ParcelOutcome(label, ran, skipped, tuple(written))


def _run_task(ctx: _Context, entry: CacheEntry, task: Task) -> tuple[ResultRow | None, bool]:
    """(the whole result row written by this task if any, whether anything was computed)."""
    done = attempts(ctx.results, task.dataset, task.validation)
    if done and not ctx.force:
        return None, False
    attempt = max(done, default=0) + 1
    if task.parts == 1:
        row = run_validation(entry, task.validation, ctx.logs, ctx.destination, parcel=ctx.parcel, attempt=attempt)
        write_result(ctx.results, row)
        return row, True
    subtasks = _subtasks(ctx, entry, task)
    computed = False
    if task.part < len(subtasks):
        sub = subtasks[task.part]
        if not ctx.results.exists(result_key(task.dataset, task.validation, attempt, sub.label())):
            partial = run_validation(entry, task.validation, ctx.logs, ctx.destination, subtask=sub, parcel=ctx.parcel, attempt=attempt)
            write_result(ctx.results, partial)
            computed = True
    return _merge_if_complete(ctx, task, attempt, subtasks), computed


def _subtasks(ctx: _Context, entry: CacheEntry, task: Task) -> list[TRange] | list[EntityPartition]:
    if entry.kind != "log":
        return [EntityPartition(i, task.parts) for i in range(task.parts)]
    try:
        return split_log(ctx.logs, entry.dataset, task.parts)
    except LogcacheError:
        # The log cannot be listed: one part runs it whole and reports why in its row.
        return [TRange()]


def _merge_if_complete(ctx: _Context, task: Task, attempt: int, subtasks: list[TRange] | list[EntityPartition]) -> ResultRow | None:
    keys = [result_key(task.dataset, task.validation, attempt, s.label()) for s in subtasks]
    if not all(ctx.results.exists(k) for k in keys):
        return None
    parts = [row for k in keys for row in read_result(ctx.results, k)]
    # The merged row keeps the first part's parcel, whoever merges: the same on every backend.
    row = merge_partials(parts)
    write_result(ctx.results, row)
    return row
