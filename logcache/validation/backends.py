"""Where parcels run: a local process pool, a Dask cluster, or the operator's own job
submitter. The pool and Dask schedule units (`plan.units`: a shard's whole tasks, or
one sub-task of a heavy shard), so they balance heavy shards themselves, and the parent
writes each parcel's heartbeat from its units' progress; the command backend runs one
`logcache validate --parcel-id` per parcel (the seed's job contract), which runs the
parcel's units in turn. All run `run_unit_here`, so the same plan gives the same rows.

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
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logcache.entries import CSV_NAME, read_entries
from logcache.errors import EndpointUnreachable, UsageError, describe
from logcache.hooks.template import uses
from logcache.stores import open_results
from logcache.validation.budget import budget_of
from logcache.validation.check import STOPS_THE_RUN
from logcache.validation.heartbeat import HeartbeatWriter
from logcache.validation.orphans import ORCHESTRATOR_ENV, orphan_guard
from logcache.validation.parcel import MISSING_PATH_PREFIX, Stores, run_unit, run_unit_here, unit_entries
from logcache.validation.plan import Parcel, Task, units
from logcache.validation.scan import cores
from state.config import CampaignConfig

BACKENDS = ("local", "dask", "command")
POLL_S = 1.0
CANCEL_S = 0.05
# Below this many cached bytes in all, the local backend runs the units in this process.
IN_PROCESS_BYTES = 64 << 20
IN_PROCESS_UNITS = 3
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
    if backend == "command":
        check_command_template(config, jobs, force)
        if not config.submitter.submit:
            return _run_command(config, jobs, force, watch, started, cancel, image)
        # Imported here: the submitter builds on this module's Job and JobEnd.
        from logcache.validation.jobs import run_async

        return run_async(config, jobs, force=force, watch=watch, started=started, cancel=cancel, on_line=on_line, image=image)
    raise UsageError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def _unit_label(job: Job, unit: tuple[Task, ...]) -> str:
    return f"{job.label}:{unit[0].task_id}" if len(unit) == 1 else f"{job.label}:{unit[0].dataset}"


@dataclass
class _Progress:
    """The parent's view of one parcel whose units run on a pool or Dask; its heartbeat
    is written by the parent, so other sessions follow it like any parcel's."""

    job: Job
    job_id: str
    futures: list[tuple[tuple[Task, ...], Any]]
    beat: HeartbeatWriter
    done: set[int] = field(default_factory=set)

    def poll(self) -> None:
        finished = {i for i, (_, f) in enumerate(self.futures) if f.done()}
        if finished != self.done:
            self.done = finished
            units_done = [self.futures[i][0] for i in finished]
            running = next((u for i, (u, _) in enumerate(self.futures) if i not in finished), None)
            self.beat.update(
                task=running[0].task_id if running else "",
                done=sum(len(u) for u in units_done),
                bytes_done=sum(t.weight for u in units_done for t in u),
            )

    def end(self) -> JobEnd:
        errors, missing = [], []
        for _, future in self.futures:
            try:
                outcome = future.result()
            except Exception as exc:  # a crashed worker ends its unit, not the campaign
                errors.append(describe(exc))
                continue
            missing.extend(outcome.missing_paths)
        self.beat.close(failed=bool(errors))
        return JobEnd(self.job.label, self.job_id, not errors, errors[0] if errors else "", tuple(dict.fromkeys(missing)))


def _every(config: CampaignConfig) -> float:
    return max(0.5, min(5.0, config.validation.heartbeat_stale_s / 4))


def _follow(
    config: CampaignConfig,
    jobs: list[Job],
    submit: Callable[[Job, tuple[Task, ...]], Any],
    wait_all: Callable[[list[Any], float], object],
    backend: str,
    watch: Watch,
    started: Started,
    cancel: threading.Event | None,
    on_cancel: Callable[[], None],
) -> list[JobEnd]:
    """Submit every unit of every job (heaviest first across jobs, so the longest units
    start first), then follow them until all have ended."""
    results = open_results(config)
    progress: dict[str, _Progress] = {}
    for job in jobs:
        beat = HeartbeatWriter(results, job.label, len(job.parcel.tasks), job.parcel.bytes, _every(config))
        progress[job.label] = _Progress(job, f"{backend}-{job.label}", [], beat)
    pending = sorted(((u, job) for job in jobs for u in units(job.parcel.tasks)), key=lambda uj: -sum(t.weight for t in uj[0]))
    try:
        for job in jobs:
            progress[job.label].beat.start()
            started(JobStarted(job.label, backend, progress[job.label].job_id))
        for unit, job in pending:
            progress[job.label].futures.append((unit, submit(job, unit)))
        futures = [f for p in progress.values() for _, f in p.futures]
        next_poll = time.monotonic() + POLL_S
        while not all(f.done() for f in futures):
            if _cancelled(cancel):
                on_cancel()
                raise KeyboardInterrupt
            # A stop is honoured within CANCEL_S; heartbeats and `watch` run every POLL_S.
            wait_all(futures, CANCEL_S)
            stop = next((f.exception() for f in futures if f.done() and not f.cancelled() and isinstance(f.exception(), STOPS_THE_RUN)), None)
            if stop is not None:
                on_cancel()
                raise stop
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_S
                for p in progress.values():
                    p.poll()
                watch()
        for p in progress.values():
            p.poll()
        return [p.end() for p in progress.values()]
    finally:
        for p in progress.values():
            p.beat.stop()


def _run_local(
    config: CampaignConfig, jobs: list[Job], force: bool, watch: Watch, started: Started, cancel: threading.Event | None
) -> list[JobEnd]:
    count = sum(len(units(job.parcel.tasks)) for job in jobs)
    by_key = {(e.dataset, e.kind): e for e in read_entries(config.work_dir / CSV_NAME)}
    pool: Executor
    readers: ThreadPoolExecutor | None = None
    run: Callable[[Job, tuple[Task, ...]], Any]
    if config.validation.workers is None and sum(job.parcel.bytes for job in jobs) < IN_PROCESS_BYTES:
        # Starting a worker process (interpreter, imports) costs as much CPU as checking
        # tens of MB: small work runs here, on threads (decoding releases the GIL), a few
        # units at a time, so one unit's short serial parts never leave a core idle.
        pool = ThreadPoolExecutor(IN_PROCESS_UNITS, thread_name_prefix="validation-units")
        # One reader more than the cores, so a read waiting on storage or on the GIL
        # leaves no core idle (medium demo world, 2 cores: 1.05 s with as many readers
        # as cores, 1.00 s with one more, 1.03 s with two more).
        readers = ThreadPoolExecutor(cores() + 1, thread_name_prefix="validation")
        stores = Stores.of(config)

        def run(job: Job, unit: tuple[Task, ...]) -> Any:
            return pool.submit(run_unit_here, stores, unit_entries(by_key, unit), unit, job.label, force, readers, budget_of(config))
    else:
        workers = max(1, min(count, config.validation.workers or os.cpu_count() or 1))
        # spawn, not fork: the parent holds threads (boto3 pools, the saver), which fork would copy mid-state.
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=orphan_guard, initargs=(os.getpid(),))

        def run(job: Job, unit: tuple[Task, ...]) -> Any:
            return pool.submit(run_unit, config, unit_entries(by_key, unit), unit, job.label, force)
    try:
        return _follow(
            config,
            jobs,
            run,
            lambda futures, timeout: wait_futures(futures, timeout),
            "local",
            watch,
            started,
            cancel,
            lambda: None,
        )
    finally:
        # Units in flight finish and write their results; none is started after. Threads
        # here must be waited for: once the interpreter exits they could start no reads.
        pool.shutdown(wait=isinstance(pool, ThreadPoolExecutor) or not _cancelled(cancel), cancel_futures=True)
        if readers is not None:
            readers.shutdown(wait=True)


def _run_dask(
    config: CampaignConfig, jobs: list[Job], force: bool, watch: Watch, started: Started, cancel: threading.Event | None
) -> list[JobEnd]:
    client = _dask_client(config.validation.scheduler)
    by_key = {(e.dataset, e.kind): e for e in read_entries(config.work_dir / CSV_NAME)}
    run_id = uuid.uuid4().hex[:8]
    submitted: list[Any] = []

    def submit(job: Job, unit: tuple[Task, ...]) -> Any:
        key = f"logcache-unit-{_unit_label(job, unit)}-{run_id}"
        future = client.submit(run_unit, config, unit_entries(by_key, unit), unit, job.label, force, key=key, pure=False)
        submitted.append(future)
        return future

    def cancel_all() -> None:
        for f in submitted:
            f.cancel()

    try:
        return _follow(config, jobs, submit, _dask_wait, "dask", watch, started, cancel, cancel_all)
    finally:
        client.close()


def _dask_wait(futures: list[Any], timeout: float) -> None:
    """Until every future is done or `timeout` passed (distributed.wait needs a default
    client, which a library must not set)."""
    deadline = time.monotonic() + timeout
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.05)


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


def check_command_template(config: CampaignConfig, jobs: list[Job], force: bool) -> None:
    """Refuse a command backend whose job template (`submit`, else `template`) is missing or
    cannot run `jobs`: a job re-plans its parcel from the campaign file and its own
    arguments, so without {args} it would validate other pairs, or skip those to force."""
    template = config.submitter.submit or config.validation.template
    if not template:
        raise UsageError("the command backend needs a job template: --template '... {parcel_id} ...', [validation] template or [validation] submit")
    if (force or any(job.args for job in jobs)) and not uses(template, "args"):
        raise UsageError("this run filters, forces or overrides [s3] settings, so the job template must pass {args} on to `logcache validate`")


def _run_command(
    config: CampaignConfig, jobs: list[Job], force: bool, watch: Watch, started: Started, cancel: threading.Event | None, image: str = ""
) -> list[JobEnd]:
    template = config.validation.template
    assert template is not None  # check_command_template refused a run without one
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
                env = {**os.environ, ORCHESTRATOR_ENV: str(os.getpid())}
                proc = subprocess.Popen(command, shell=True, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
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
