"""The command backend: one `logcache validate --parcel-id` job per parcel, started by
the operator's own command line. With `[validation] template` each job is a child
process followed here until it exits; with `[validation] submit` an asynchronous
submitter (`logcache.validation.jobs`) hands jobs to a cluster and follows them by
heartbeat, surviving the run that submitted them."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from logcache.errors import JobRefused, UsageError, missing_paths
from logcache.hooks.template import uses
from logcache.validation.backends.base import POLL_S, JobEnd, JobStarted, ParcelJob, RunOptions
from logcache.validation.jobs import run_async, submitted_since
from logcache.validation.orphans import ORCHESTRATOR_ENV
from state.config import CampaignConfig

# `logcache validate`'s exit code for a refusal (README, exit codes).
REFUSED = 2


class CommandBackend:
    def check(self, config: CampaignConfig, jobs: Sequence[ParcelJob], force: bool) -> None:
        """Refuse a job template (`submit`, else `template`) that is missing or cannot run
        `jobs`: a job re-plans its parcel from the campaign file and its own arguments,
        so without {args} it would validate other pairs, or skip those to force."""
        template = config.submitter.submit or config.validation.template
        if not template:
            raise UsageError("the command backend needs a job template: --template '... {parcel_id} ...', [validation] template or [validation] submit")
        if (force or any(job.args for job in jobs)) and not uses(template, "args"):
            raise UsageError("this run filters, forces or overrides [s3] settings, so the job template must pass {args} on to `logcache validate`")

    def resumed_since(self, config: CampaignConfig, jobs: Sequence[ParcelJob]) -> str | None:
        if not config.submitter.submit:
            return None  # a template's jobs are child processes: they die with their run
        return submitted_since(config, [j.label for j in jobs])

    def run(self, config: CampaignConfig, jobs: list[ParcelJob], options: RunOptions) -> list[JobEnd]:
        self.check(config, jobs, options.force)
        if config.submitter.submit:
            return run_async(
                config, jobs, force=options.force, watch=options.watch, started=options.started, cancel=options.cancel,
                on_line=options.on_line, image=options.image,
            )
        return _run_children(config, jobs, options)


def _run_children(config: CampaignConfig, jobs: list[ParcelJob], options: RunOptions) -> list[JobEnd]:
    template = config.validation.template
    assert template is not None  # check refused a run without one
    log_dir = config.work_dir / "jobs"
    log_dir.mkdir(parents=True, exist_ok=True)
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    try:
        for job in jobs:
            args = (*job.args, "--force") if options.force else job.args
            command = template.format(
                parcel_id=job.parcel.parcel_id,
                parcel_count=job.parcel_count,
                campaign=shlex.quote(str(config.path)),
                label=job.label,
                args=shlex.join(args),
                image=shlex.quote(options.image),
            )
            log_path = log_dir / f"parcel-{job.label}.log"
            with log_path.open("wb") as log:
                # The template is the operator's own submitter command line, so a shell runs it.
                env = {**os.environ, ORCHESTRATOR_ENV: str(os.getpid())}
                proc = subprocess.Popen(command, shell=True, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
            running[job.label] = (proc, log_path)
            options.started(JobStarted(job.label, "command", f"pid {proc.pid}"))
        while any(proc.poll() is None for proc, _ in running.values()):
            if options.cancelled:
                raise KeyboardInterrupt
            _stop_if_refused(running)
            time.sleep(POLL_S)
            options.watch()
        _stop_if_refused(running)
    except (KeyboardInterrupt, JobRefused):
        for proc, _ in running.values():
            if proc.poll() is None:
                # The whole group: the template's shell and whatever it started.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        raise
    return [_child_end(label, proc, log_path) for label, (proc, log_path) in running.items()]


def _stop_if_refused(running: dict[str, tuple[subprocess.Popen[bytes], Path]]) -> None:
    """A job that exited 2 was refused by its environment (`logcache validate`'s exit
    code): never a parcel's finding, and the other jobs meet the same environment."""
    for label, (proc, log_path) in running.items():
        if proc.poll() == REFUSED:
            last = _last_line(log_path.read_text(errors="replace")).removeprefix("logcache: ")
            raise JobRefused(f"parcel {label}'s job was refused: {last[:300]} (log: {log_path}); fix that, then run again: saved results stay")


def _last_line(text: str) -> str:
    return next((line for line in reversed(text.splitlines()) if line.strip()), "")


def _child_end(label: str, proc: subprocess.Popen[bytes], log_path: Path) -> JobEnd:
    text = log_path.read_text(errors="replace")
    # `logcache validate` exits 1 when it ran and found invalid rows: the job itself worked.
    ok = proc.returncode in (0, 1)
    last = _last_line(text)
    error = "" if ok else f"job exited with {proc.returncode}: {last[:200]} (log: {log_path})"
    return JobEnd(label, f"pid {proc.pid}", ok, error, tuple(missing_paths(text)), str(log_path))
