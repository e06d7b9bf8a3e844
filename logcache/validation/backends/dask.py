"""The Dask backend: units on a Dask cluster's workers, followed by the parent."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from logcache.entries import CSV_NAME, read_entries
from logcache.errors import EndpointUnreachable, UsageError
from logcache.validation.backends.base import JobEnd, ParcelJob, RunOptions
from logcache.validation.backends.follow import follow_units, unit_label
from logcache.validation.parcel import run_unit, unit_entries
from logcache.validation.plan import Task
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

        def submit(job: ParcelJob, unit: tuple[Task, ...]) -> Any:
            key = f"logcache-unit-{unit_label(job, unit)}-{run_id}"
            future = client.submit(run_unit, config, unit_entries(by_key, unit), unit, job.label, options.force, key=key, pure=False)
            submitted.append(future)
            return future

        def cancel_all() -> None:
            for f in submitted:
                f.cancel()

        try:
            return follow_units(config, jobs, submit, _wait, "dask", options, cancel_all)
        finally:
            client.close()


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
