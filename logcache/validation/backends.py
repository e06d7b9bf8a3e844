"""Where parcels run: a local process pool, a Dask cluster, or the operator's own job
submitter. All three run `run_parcel` (the command backend through `logcache validate
--parcel-id`), so the same plan gives the same result rows on each.

A backend starts every parcel, then calls `watch()` about once a second until all have
ended, so the caller can poll heartbeats and stop early; it returns one `JobEnd` each.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logcache.errors import EndpointUnreachable, UsageError, describe
from logcache.validation.parcel import MISSING_PATH_PREFIX, ParcelOutcome, run_parcel
from logcache.validation.plan import Parcel
from state.config import CampaignConfig

BACKENDS = ("local", "dask", "command")
POLL_S = 1.0
_MISSING = re.compile(re.escape(MISSING_PATH_PREFIX) + r"(\S+)")


@dataclass(frozen=True)
class Job:
    parcel: Parcel
    label: str
    parcel_count: int
    # Extra `logcache validate` arguments that make a job re-plan exactly this parcel.
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobStarted:
    label: str
    backend: str
    job_id: str


@dataclass(frozen=True)
class JobEnd:
    label: str
    job_id: str
    ok: bool
    error: str  # one line; "" when ok
    missing_paths: tuple[str, ...]  # from the job's results or its log
    log_path: str = ""


Watch = Callable[[], None]
Started = Callable[[JobStarted], None]


def run_jobs(
    config: CampaignConfig,
    jobs: list[Job],
    *,
    backend: str,
    force: bool,
    watch: Watch,
    started: Started,
    cancel: threading.Event | None = None,
    image: str = "",
    on_line: Callable[[str], None] | None = None,
) -> list[JobEnd]:
    """`image` fills `{image}` in the command backend's templates; `on_line` gets the
    output of the asynchronous submitter's commands (`[validation] submit` and the rest)."""
    if backend == "local":
        return _run_local(config, jobs, force, watch, started, cancel)
    if backend == "dask":
        return _run_dask(config, jobs, force, watch, started, cancel)
    if backend == "command" and config.submitter.submit:
        # Imported here: the submitter builds on this module's Job and JobEnd.
        from logcache.validation.jobs import run_async

        return run_async(config, jobs, force=force, watch=watch, started=started, cancel=cancel, on_line=on_line, image=image)
    if backend == "command":
        return _run_command(config, jobs, force, watch, started, cancel, image)
    raise UsageError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def _parcel_task(config: CampaignConfig, parcel: Parcel, label: str, force: bool) -> ParcelOutcome:
    return run_parcel(config, parcel, label, force=force)


def _end_of(label: str, job_id: str, future: Future[ParcelOutcome]) -> JobEnd:
    try:
        outcome = future.result()
    except Exception as exc:  # a crashed worker ends its parcel, not the campaign
        return JobEnd(label, job_id, False, describe(exc), ())
    return JobEnd(label, job_id, True, "", tuple(outcome.missing_paths))


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _run_local(
    config: CampaignConfig, jobs: list[Job], force: bool, watch: Watch, started: Started, cancel: threading.Event | None
) -> list[JobEnd]:
    workers = max(1, min(len(jobs), config.validation.workers or os.cpu_count() or 1))
    # spawn, not fork: the parent holds threads (boto3 pools, the saver), which fork would copy mid-state.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {}
        for job in jobs:
            futures[job.label] = pool.submit(_parcel_task, config, job.parcel, job.label, force)
            started(JobStarted(job.label, "local", f"pool-{job.label}"))
        while not all(f.done() for f in futures.values()):
            if _cancelled(cancel):
                raise KeyboardInterrupt
            wait_futures(list(futures.values()), timeout=POLL_S, return_when="FIRST_COMPLETED")
            watch()
        return [_end_of(label, f"pool-{label}", f) for label, f in futures.items()]
    finally:
        pool.shutdown(wait=not _cancelled(cancel), cancel_futures=True)


def _run_dask(
    config: CampaignConfig, jobs: list[Job], force: bool, watch: Watch, started: Started, cancel: threading.Event | None
) -> list[JobEnd]:
    client = _dask_client(config.validation.scheduler)
    run_id = uuid.uuid4().hex[:8]
    try:
        futures = {}
        for job in jobs:
            key = f"logcache-parcel-{job.label}-{run_id}"
            futures[job.label] = client.submit(_parcel_task, config, job.parcel, job.label, force, key=key, pure=False)
            started(JobStarted(job.label, "dask", key))
        while not all(f.done() for f in futures.values()):
            if _cancelled(cancel):
                for f in futures.values():
                    f.cancel()
                raise KeyboardInterrupt
            time.sleep(POLL_S)
            watch()
        return [_end_of(label, f.key, f) for label, f in futures.items()]  # type: ignore[arg-type]
    finally:
        client.close()


def _dask_client(address: str | None) -> Any:
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


def validate_dask_scheduler(address: str | None) -> None:
    """Connect once, so an unreachable scheduler is refused before any work starts."""
    _dask_client(address).close()


def _run_command(
    config: CampaignConfig, jobs: list[Job], force: bool, watch: Watch, started: Started, cancel: threading.Event | None, image: str = ""
) -> list[JobEnd]:
    template = config.validation.template
    if not template:
        raise UsageError("the command backend needs a job template: --template '... {parcel_id} ...' or [validation] template")
    if any(job.args for job in jobs) and "{args}" not in template:
        raise UsageError("this run filters or forces, so the job template must pass {args} on to `logcache validate`")
    log_dir = config.work_dir / "jobs"
    log_dir.mkdir(parents=True, exist_ok=True)
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    try:
        for job in jobs:
            args = (*job.args, "--force") if force else job.args
            command = template.format(
                parcel_id=job.parcel.parcel_id,
                parcel_count=job.parcel_count,
                campaign=shlex.quote(str(config.path)),
                label=job.label,
                args=shlex.join(args),
                image=shlex.quote(image),
            )
            log_path = log_dir / f"parcel-{job.label}.log"
            with log_path.open("wb") as log:
                # The template is the operator's own submitter command line, so a shell runs it.
                proc = subprocess.Popen(command, shell=True, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            running[job.label] = (proc, log_path)
            started(JobStarted(job.label, "command", f"pid {proc.pid}"))
        while any(proc.poll() is None for proc, _ in running.values()):
            if _cancelled(cancel):
                raise KeyboardInterrupt
            time.sleep(POLL_S)
            watch()
    except KeyboardInterrupt:
        for proc, _ in running.values():
            if proc.poll() is None:
                proc.terminate()
        raise
    return [_command_end(label, proc, log_path) for label, (proc, log_path) in running.items()]


def _command_end(label: str, proc: subprocess.Popen[bytes], log_path: Path) -> JobEnd:
    text = log_path.read_text(errors="replace")
    missing = tuple(dict.fromkeys(_MISSING.findall(text)))
    # `logcache validate` exits 1 when it ran and found invalid rows: the job itself worked.
    ok = proc.returncode in (0, 1)
    last = next((line for line in reversed(text.splitlines()) if line.strip()), "")
    error = "" if ok else f"job exited with {proc.returncode}: {last[:200]} (log: {log_path})"
    return JobEnd(label, f"pid {proc.pid}", ok, error, missing, str(log_path))
