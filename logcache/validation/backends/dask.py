"""The Dask backend: units on a Dask cluster's workers, followed by the parent. A heavy
shard's materialized-entities check (one that needs partitions under the workers'
budget) is not one unit but tasks of its own (`validation.spread`): its segment decodes
and partition folds spread over every worker; the rest of its unit runs as usual."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from logcache.entries import CSV_NAME, CacheEntry, read_entries
from logcache.errors import EndpointUnreachable, UsageError
from logcache.validation.backends.base import JobEnd, ParcelJob, RunOptions
from logcache.validation.backends.follow import follow_units, unit_label
from logcache.validation.budget import Budget, budget_of
from logcache.validation.parcel import Stores, run_unit, unit_entries
from logcache.validation.plan import Task
from logcache.validation.spread import Spread, combined, decode_task, finish_task, fold_task, remove, spread_of
from state.config import CampaignConfig


class DaskBackend:
    def check(self, config: CampaignConfig, jobs: Sequence[ParcelJob], force: bool) -> None:
        """Connect once, so an unreachable scheduler is refused before any work starts."""
        _client(config.validation.scheduler).close()

    def resumed_since(self, config: CampaignConfig, jobs: Sequence[ParcelJob]) -> str | None:
        return None  # a run's units are cancelled when it ends

    def run(self, config: CampaignConfig, jobs: list[ParcelJob], options: RunOptions) -> list[JobEnd]:
        client = _client(config.validation.scheduler)
        by_key = {(e.dataset, e.kind): e for e in read_entries(config.work_dir / CSV_NAME)}
        run_id = uuid.uuid4().hex[:8]
        submitted: list[Any] = []
        spreads: list[Spread] = []
        stores, budget = Stores.of(config), budget_of(config)

        def submit(job: ParcelJob, unit: tuple[Task, ...]) -> Any:
            key = f"logcache-unit-{unit_label(job, unit)}-{run_id}"
            spread = {t: s for t in unit if (s := _spread(stores, budget, by_key, t, options.force)) is not None}
            rest = tuple(t for t in unit if t not in spread)
            if rest:
                submitted.append(client.submit(run_unit, config, unit_entries(by_key, rest), rest, job.label, options.force, key=key, pure=False))
            for task, s in spread.items():
                spreads.append(s)
                submitted.append(_submit_spread(client, config, s, job.label, f"{job.label}:{task.task_id}-{run_id}"))
            if not spread:
                return submitted[-1]
            # One future per unit, as the follower expects: the parts' outcomes combined.
            parts = submitted[-len(spread) - bool(rest):]
            submitted.append(client.submit(combined, job.label, *parts, key=f"{key}-combined", pure=False))
            return submitted[-1]

        def cancel_all() -> None:
            for f in submitted:
                f.cancel()

        try:
            return follow_units(config, jobs, submit, _wait, "dask", options, cancel_all)
        finally:
            client.close()
            for s in spreads:
                remove(s)


def _spread(stores: Stores, budget: Budget, by_key: dict[tuple[str, str], CacheEntry], task: Task, force: bool) -> Spread | None:
    entry = by_key.get((task.dataset, task.kind))
    return None if entry is None else spread_of(stores, budget, entry, task, force)


def _submit_spread(client: Any, config: CampaignConfig, spread: Spread, label: str, key: str) -> Any:
    """A heavy entities check as Dask tasks (`validation.spread`): a decode per segment,
    a fold per partition once they all ended, and the finish that writes its row. Dask
    places them on whichever workers are free, so they spread over the cluster."""
    decodes = [client.submit(decode_task, config, spread, i, key=f"logcache-decode-{key}-{i}", pure=False) for i in range(len(spread.decoded))]
    folds = [client.submit(fold_task, spread, p, *decodes, key=f"logcache-fold-{key}-{p}", pure=False) for p in range(spread.parts)]
    return client.submit(finish_task, config, spread, label, decodes, *folds, key=f"logcache-finish-{key}", pure=False)


def _wait(futures: list[Any], timeout: float) -> None:
    """Until every future is done or `timeout` passed (distributed.wait needs a default
    client, which a library must not set)."""
    deadline = time.monotonic() + timeout
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.05)


def _client(address: str | None) -> Any:
    if not address:
        raise UsageError("the dask backend needs a scheduler: --scheduler tcp://HOST:PORT or [validation] scheduler")
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("the dask backend needs dask.distributed: pip install 'logcache[dask]'") from None
    try:
        return Client(address, timeout="5s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise EndpointUnreachable(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}); check --scheduler and that the cluster is up") from None
