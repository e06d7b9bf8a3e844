"""The local backend: units on this machine, in this process for small work, else on a
pool of spawned worker processes that die with their parent."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any

from logcache.entries import CSV_NAME, read_entries
from logcache.validation.backends.base import JobEnd, ParcelJob, RunOptions
from logcache.validation.backends.follow import follow_units
from logcache.validation.budget import budget_of, cores
from logcache.validation.orphans import orphan_guard
from logcache.validation.parcel import Stores, run_unit, run_unit_here, unit_entries
from logcache.validation.plan import IN_PROCESS_BYTES, IN_PROCESS_UNITS, Task, local_concurrency, units
from state.config import CampaignConfig


class LocalBackend:
    def check(self, config: CampaignConfig, jobs: Sequence[ParcelJob], force: bool) -> None:
        """This machine can run anything."""

    def resumed_since(self, config: CampaignConfig, jobs: Sequence[ParcelJob]) -> str | None:
        return None  # nothing outlives the run that started it

    def run(self, config: CampaignConfig, jobs: list[ParcelJob], options: RunOptions) -> list[JobEnd]:
        force = options.force
        count = sum(len(units(job.parcel.tasks)) for job in jobs)
        by_key = {(e.dataset, e.kind): e for e in read_entries(config.work_dir / CSV_NAME)}
        pool: Executor
        readers: ThreadPoolExecutor | None = None
        run: Callable[[ParcelJob, tuple[Task, ...]], Any]
        nbytes = sum(job.parcel.bytes for job in jobs)
        # Recorded with each unit's measurement: units at once share the machine.
        at_once = local_concurrency(config.validation.workers, count, nbytes, os.cpu_count() or 1)
        if config.validation.workers is None and nbytes < IN_PROCESS_BYTES:
            # Starting a worker process (interpreter, imports) costs as much CPU as checking
            # tens of MB: small work runs here, on threads (decoding releases the GIL), a few
            # units at a time, so one unit's short serial parts never leave a core idle.
            pool = ThreadPoolExecutor(IN_PROCESS_UNITS, thread_name_prefix="validation-units")
            # One reader more than the cores, so a read waiting on storage or on the GIL
            # leaves no core idle (medium demo world, 2 cores: 1.05 s with as many readers
            # as cores, 1.00 s with one more, 1.03 s with two more).
            readers = ThreadPoolExecutor(cores() + 1, thread_name_prefix="validation")
            stores = Stores.of(config)

            def run(job: ParcelJob, unit: tuple[Task, ...]) -> Any:
                return pool.submit(run_unit_here, stores, unit_entries(by_key, unit), unit, job.label, force, readers, budget_of(config), at_once)
        else:
            workers = at_once
            # spawn, not fork: the parent holds threads (boto3 pools, the saver), which fork would copy mid-state.
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=orphan_guard, initargs=(os.getpid(),))

            def run(job: ParcelJob, unit: tuple[Task, ...]) -> Any:
                return pool.submit(run_unit, config, unit_entries(by_key, unit), unit, job.label, force, at_once)
        try:
            return follow_units(config, jobs, run, lambda futures, timeout: wait_futures(futures, timeout), "local", options, lambda: None)
        finally:
            # Units in flight finish and write their results; none is started after. Threads
            # here must be waited for: once the interpreter exits they could start no reads.
            pool.shutdown(wait=isinstance(pool, ThreadPoolExecutor) or not options.cancelled, cancel_futures=True)
            if readers is not None:
                readers.shutdown(wait=True)
