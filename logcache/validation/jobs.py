"""The command backend's asynchronous submitter, with machines scaled per parcel.

`[validation] submit` starts one parcel's job and returns at once, printing the job's id
(found by `job_id_pattern`); the job itself runs `logcache validate --parcel-id ...` on
the operator's cluster and reports through its heartbeat and result files, as on every
backend. For each parcel, in order:

1. `scale_up` (if set) gets its machines. Its record says "holding" *before* the command
   runs, so machines asked for by a run that then dies are still given back.
2. `submit` starts the job; the record notes the attempt before it and the job id after,
   so a parcel is never submitted twice: a rerun follows the recorded job instead, and
   one whose submitter died mid-way reads the id back from the submitter's kept output.
3. The parcel ends when its heartbeat says done or failed (a heartbeat newer than the
   one present at submission), when every pair it validates has a result in the results
   store, or when `status` (every `status_every_s`) names an end state.
4. `logs` (if set) fetches the job's output into `jobs/parcel-<label>.log` for the
   missing-path scan (`errors.missing_paths`); `scale_down` (if set) gives the machines back, exactly
   once per hold: on done, failed, or an operator's cancel (`cancel_parcels`).

Quitting (the `cancel` event, Ctrl-C, a crash) leaves submitted jobs running and their
machines held: the records say so, `held_machines` lists them, and the next run picks the
jobs up by id and heartbeat. Records are plain data (`ParcelRecord.to_dict`) kept by a
`RecordBook`: a JSON file in `jobs/` by default, or the campaign state.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from logcache.errors import ConfigError, LogcacheError, StorageError, missing_paths
from logcache.hooks.runner import HookFailed, LineSink, display_line, hook_cwd, jobs_dir, run_hook
from logcache.hooks.template import Value, render
from logcache.storage import Store
from logcache.stores import open_results
from logcache.validation.backends.base import POLL_S, JobEnd, JobStarted, ParcelJob, Started, Watch
from logcache.validation.heartbeat import Heartbeat, HeartbeatState, read_heartbeats
from logcache.validation.result import utc_now
from state.config import CampaignConfig

# What a `status` command may print as the first word of its last line. Kubernetes
# (`.status.conditions[0].type`), Slurm (`sacct -o State`) and plain words are all covered;
# anything else means "not ended yet".
DONE_WORDS = frozenset({"complete", "completed", "succeeded", "success", "successful", "done", "finished"})
FAILED_WORDS = frozenset(
    {"failed", "failure", "error", "cancelled", "canceled", "timeout", "out_of_memory", "node_fail", "boot_fail", "deadline", "preempted", "killed", "lost"}
)


class JobOutcome(StrEnum):
    """How a parcel's job ended, as its record keeps it ("" while it runs: the records
    are plain data, and TOML has no null)."""

    RUNNING = ""
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ParcelRecord:
    """What the campaign must remember of one parcel's job. Strings are "" when unset (TOML has no null)."""

    label: str
    parcel_id: int
    run: str  # which validation run: a parcel of another run is never taken for this one's
    job_id: str = ""
    submitting_at: str = ""  # a submit was started (cleared if it failed)
    beat_before: str = ""  # started_at of the parcel's heartbeat found at submission
    up_at: str = ""  # machines held since (scale-up started); "" once scaled down
    machine_s: float = 0.0  # seconds of holds already ended
    ended_at: str = ""
    outcome: JobOutcome = JobOutcome.RUNNING
    error: str = ""  # one line

    @property
    def holding(self) -> bool:
        return bool(self.up_at)

    @property
    def ended(self) -> bool:
        return self.outcome is not JobOutcome.RUNNING

    def __post_init__(self) -> None:
        # A record read back from its book carries the outcome as a plain string.
        object.__setattr__(self, "outcome", JobOutcome(self.outcome))

    def to_dict(self) -> dict[str, str | int | float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> ParcelRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})  # type: ignore[arg-type]


class RecordBook(Protocol):
    def load(self) -> dict[str, ParcelRecord]: ...

    def save(self, records: dict[str, ParcelRecord]) -> None:
        """Durably, before the caller goes on: a record is written ahead of what it says."""

    def put(self, record: ParcelRecord) -> dict[str, ParcelRecord]:
        """Save one record over the book as it is now (what another writer saved meanwhile,
        e.g. the app's cancel while a run follows the jobs, is kept); return every record."""


class JsonRecordBook:
    """Records in one JSON file, replaced atomically (temp file, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, ParcelRecord]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {label: ParcelRecord.from_dict(item) for label, item in raw.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path} is not a job record file ({exc}); restore it from {self.path.name}.bak or move it away") from None

    def put(self, record: ParcelRecord) -> dict[str, ParcelRecord]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # An advisory lock beside the file: writers in other threads or processes wait.
        with self.path.with_name(f".{self.path.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = {**self.load(), record.label: record}
            self.save(records)
        return records

    def save(self, records: dict[str, ParcelRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({label: r.to_dict() for label, r in sorted(records.items())}, indent=1).encode()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if self.path.exists():
            os.replace(self.path, self.path.with_name(self.path.name + ".bak"))
        os.replace(tmp, self.path)


def default_book(config: CampaignConfig) -> JsonRecordBook:
    return JsonRecordBook(jobs_dir(config) / "parcels.json")


def run_key(jobs: list[ParcelJob], force: bool) -> str:
    """A validation run's identity: the same plan run again is the same run."""
    digest = hashlib.sha256(repr((force, [(j.label, j.parcel, j.parcel_count, j.args) for j in jobs])).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class MachineUsage:
    holding: tuple[str, ...]  # labels of parcels whose machines are not given back
    machine_hours: float | None  # None without `nodes`
    cost: float | None  # None without `hourly_cost`


def held_machines(config: CampaignConfig, records: dict[str, ParcelRecord], now: datetime | None = None) -> MachineUsage:
    """Which parcels hold machines, and the machine-hours and cost so far (for `status`
    and the Validators pane)."""
    now = now or datetime.now(UTC)
    settings = config.submitter
    seconds = sum(r.machine_s + (_age_s(r.up_at, now) if r.holding else 0.0) for r in records.values())
    hours = None if settings.nodes is None else settings.nodes * seconds / 3600
    cost = None if hours is None or settings.hourly_cost is None else hours * settings.hourly_cost
    return MachineUsage(tuple(sorted(label for label, r in records.items() if r.holding)), hours, cost)


def _age_s(iso: str, now: datetime) -> float:
    return max(0.0, (now - datetime.fromisoformat(iso)).total_seconds())


class Submitter:
    """One validation run's parcels on the operator's submitter; see the module's doc."""

    def __init__(
        self,
        config: CampaignConfig,
        book: RecordBook,
        *,
        on_line: LineSink | None = None,
        cancel: threading.Event | None = None,
        image: str = "",
    ) -> None:
        self.config = config
        self.settings = config.submitter
        self.book = book
        self.records = book.load()
        self.on_line = on_line
        self.cancel = cancel
        self.image = image
        self.results: Store = open_results(config)
        self.lock = threading.Lock()  # records are changed by one thread at a time
        self.scale_failures: list[str] = []

    # -- records -------------------------------------------------------------------

    def _put(self, record: ParcelRecord) -> ParcelRecord:
        with self.lock:
            self.records = self.book.put(record)
        return record

    def _reload(self) -> None:
        """What other writers (an operator's cancel from the app) recorded meanwhile."""
        with self.lock:
            self.records = self.book.load()

    # -- hooks ---------------------------------------------------------------------

    def _values(self, record: ParcelRecord, **more: Value) -> dict[str, Value]:
        # {job_id} is empty for a parcel that never got a job (a scale-down after a failed submit).
        values: dict[str, Value] = {"campaign": str(self.config.path), "parcel_id": str(record.parcel_id), "label": record.label, "job_id": record.job_id}
        return {**values, **more}

    def _hook(
        self, name: str, template: str, record: ParcelRecord, log: str, *, pattern: str | None = None, append: bool = True,
        on_line: LineSink | None = None, **more: Value,
    ) -> str | None:
        """Run one of the parcel's commands; its lines go to `on_line` if given, else to the
        submitter's sink tagged with the parcel and the hook."""
        command = render(name, template, self._values(record, **more))
        sink = self.on_line
        if on_line is None and sink is not None:
            on_line = lambda line: sink(f"[{record.label} {name}] {line}")
        run = run_hook(
            name, command, log_path=jobs_dir(self.config) / log, on_line=on_line, pattern=pattern,
            timeout_s=self.settings.hook_timeout_s, cancel=self.cancel, append=append, cwd=hook_cwd(self.config),
        )
        return run.value

    def _scale_up(self, record: ParcelRecord) -> ParcelRecord:
        if not self.settings.scale_up:
            return record
        record = self._put(replace(record, up_at=utc_now()))
        try:
            self._hook("scale_up", self.settings.scale_up, record, f"parcel-{record.label}.scale.log")
        except HookFailed:
            # Part of a scale-up may have happened: give back whatever it got.
            self._scale_down(record)
            raise
        return record

    def _scale_down(self, record: ParcelRecord) -> ParcelRecord:
        """Give the parcel's machines back; a failure is kept (and raised at the end of the
        run), the record still holding, so the next run retries it."""
        self._reload()
        record = self.records.get(record.label, record)
        if not record.holding or not self.settings.scale_down:
            return record
        try:
            self._hook("scale_down", self.settings.scale_down, record, f"parcel-{record.label}.scale.log")
        except HookFailed as exc:
            self.scale_failures.append(str(exc))
            return self._put(replace(record, error=str(exc)))
        held = _age_s(record.up_at, datetime.now(UTC))
        return self._put(replace(record, up_at="", machine_s=record.machine_s + held))

    def _submit(self, job: ParcelJob, record: ParcelRecord, force: bool) -> ParcelRecord:
        template = self.settings.submit
        assert template is not None and self.settings.job_id_pattern is not None
        if "{image}" in template and not self.image:
            raise ConfigError("the submit command uses {image}, but no image was built: set [image] command, or give the tag with --image")
        args = (*job.args, "--force") if force else job.args
        beat = read_heartbeats(self.results).get(job.label)
        record = self._put(replace(record, submitting_at=utc_now(), beat_before=beat.started_at if beat else "", error=""))
        try:
            job_id = self._hook(
                "submit", template, record, f"parcel-{record.label}.submit.log", pattern=self.settings.job_id_pattern,
                parcel_count=str(job.parcel_count), args=args, image=self.image,
            )
        except HookFailed as exc:
            self._put(replace(record, submitting_at="", error=str(exc)))
            self._scale_down(record)
            raise
        assert job_id is not None
        return self._put(replace(record, job_id=job_id))

    def _recovered_id(self, record: ParcelRecord) -> str:
        """The job id a submitter printed before logcache died, from its kept output."""
        log = jobs_dir(self.config) / f"parcel-{record.label}.submit.log"
        if not log.exists() or not self.settings.job_id_pattern:
            return ""
        lines = log.read_bytes().split(b"\n")
        # Each attempt starts with run_hook's `--- <time> submit: <command>` line.
        starts = [i for i, raw in enumerate(lines) if raw.startswith(b"--- ") and not raw.startswith(b"--- exit ")]
        last_attempt = lines[starts[-1] + 1 :] if starts else lines
        pattern = re.compile(self.settings.job_id_pattern)
        found = [m.group(1) if pattern.groups else m.group(0) for raw in last_attempt if (m := pattern.search(display_line(raw)))]
        return found[-1] if found else ""

    # -- the run -------------------------------------------------------------------

    def run(self, jobs: list[ParcelJob], *, force: bool, watch: Watch, started: Started, run: str | None = None) -> list[JobEnd]:
        if not self.settings.submit:
            raise ConfigError("the asynchronous command backend needs [validation] submit and job_id_pattern")
        key = run or run_key(jobs, force)
        self._retry_scale_downs()
        for job in jobs:
            record = self._adopt(job, key)
            if not record.job_id and not record.ended:
                if self._cancelled():
                    raise KeyboardInterrupt
                record = self._submit(job, self._scale_up(record) if not record.holding else record, force)
            started(JobStarted(job.label, "command", record.job_id))
        self._follow(jobs, force, watch)
        if self.scale_failures:
            raise HookFailed(self.scale_failures[0])
        return [self._end_of(job) for job in jobs]

    def _retry_scale_downs(self) -> None:
        for record in list(self.records.values()):
            if record.ended and record.holding:
                self._scale_down(record)

    def _adopt(self, job: ParcelJob, key: str) -> ParcelRecord:
        """This run's record of the job's parcel: a fresh one, or the one a previous
        process of the same run left (followed, never submitted again)."""
        record = self.records.get(job.label)
        if record is not None and record.run != key:
            if not record.ended:
                raise LogcacheError(
                    f"parcel {job.label} still runs job {record.job_id or '(id unknown)'} of an earlier validation; "
                    "let it end or cancel it (`logcache validate --cancel`), then validate again"
                )
            record = None
        if record is None:
            # An earlier run's hold (its scale-down failed) and machine time carry over.
            earlier = self.records.get(job.label)
            fresh = ParcelRecord(job.label, job.parcel.parcel_id, key)
            if earlier is not None:
                fresh = replace(fresh, up_at=earlier.up_at, machine_s=earlier.machine_s)
            return self._put(fresh)
        if record.submitting_at and not record.job_id and not record.ended:
            job_id = self._recovered_id(record)
            if job_id:
                return self._put(replace(record, job_id=job_id))
            beat = read_heartbeats(self.results).get(job.label)
            if beat is not None and beat.started_at != record.beat_before:
                # The job runs (its heartbeat says so) though its id was never printed.
                return self._put(replace(record, job_id="unknown"))
            return self._put(replace(record, submitting_at=""))
        return record

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _follow(self, jobs: list[ParcelJob], force: bool, watch: Watch) -> None:
        by_label = {job.label: job for job in jobs}
        next_status = 0.0
        while True:
            self._reload()
            live = [self.records[label] for label in by_label if not self.records[label].ended]
            if not live:
                return
            if self._cancelled():
                raise KeyboardInterrupt
            beats = read_heartbeats(self.results)
            slow_check = time.monotonic() >= next_status
            with_results = self._pairs_with_results() if slow_check and not force else set()
            for record in live:
                outcome, error = self._outcome(record, beats.get(record.label), by_label[record.label], with_results, slow_check)
                if outcome is not JobOutcome.RUNNING:
                    self._end(record, outcome, error)
            if slow_check:
                next_status = time.monotonic() + self.settings.status_every_s
            watch()
            time.sleep(POLL_S)

    def _outcome(self, record: ParcelRecord, beat: Heartbeat | None, job: ParcelJob, with_results: set[tuple[str, str]], slow_check: bool) -> tuple[JobOutcome, str]:
        if beat is not None and beat.started_at != record.beat_before and beat.state is not HeartbeatState.RUNNING:
            if beat.state is HeartbeatState.DONE:
                return JobOutcome.DONE, ""
            return JobOutcome.FAILED, f"parcel {record.label} failed (its heartbeat says so; see its job's log)"
        pairs = {(t.dataset, t.validation) for t in job.parcel.tasks}
        if with_results and pairs <= with_results:
            return JobOutcome.DONE, ""
        if slow_check and self.settings.status and record.job_id and record.job_id != "unknown":
            return self._status(record)
        return JobOutcome.RUNNING, ""

    def _status(self, record: ParcelRecord) -> tuple[JobOutcome, str]:
        lines: list[str] = []
        assert self.settings.status is not None
        try:
            self._hook("status", self.settings.status, record, f"parcel-{record.label}.status.log", on_line=lines.append)
        except HookFailed as exc:
            # A scheduler that cannot answer now may answer next time; heartbeats still count.
            if self.on_line is not None:
                self.on_line(f"[{record.label} status] {exc}")
            return JobOutcome.RUNNING, ""
        word = re.sub(r"[^a-z_]", "", lines[-1].split()[0].lower()) if lines else ""
        if word in DONE_WORDS:
            return JobOutcome.DONE, ""
        if word in FAILED_WORDS:
            return JobOutcome.FAILED, f"job {record.job_id} of parcel {record.label} ended {lines[-1][:120]} (its scheduler's status)"
        return JobOutcome.RUNNING, ""

    def _pairs_with_results(self) -> set[tuple[str, str]]:
        """(dataset, validation) of every whole or merged result in the results store."""
        try:
            keys = [info.key for info in self.results.list() if info.key.endswith(".parquet") and ".part-" not in info.key]
        except StorageError:
            return set()
        return {(parts[-3], parts[-2]) for key in keys if len(parts := key.split("/")) >= 3}

    def _end(self, record: ParcelRecord, outcome: JobOutcome, error: str) -> None:
        record = self._put(replace(record, outcome=outcome, ended_at=utc_now(), error=error))
        if self.settings.logs and record.job_id and record.job_id != "unknown":
            try:
                self._hook("logs", self.settings.logs, record, f"parcel-{record.label}.log", append=False)
            except HookFailed as exc:
                if self.on_line is not None:
                    self.on_line(f"[{record.label} logs] {exc}")
        self._scale_down(record)

    def _end_of(self, job: ParcelJob) -> JobEnd:
        record = self.records[job.label]
        log = jobs_dir(self.config) / f"parcel-{job.label}.log"
        missing: tuple[str, ...] = ()
        if log.exists():
            missing = tuple(missing_paths(log.read_text(errors="replace")))
        ok = record.outcome is JobOutcome.DONE
        return JobEnd(job.label, record.job_id, ok, "" if ok else record.error or f"parcel {job.label} {record.outcome}", missing, str(log) if log.exists() else "")

    # -- the operator's cancel -------------------------------------------------------

    def cancel_parcels(self, labels: list[str] | None = None) -> list[str]:
        """End the named parcels (default: every one still running) as cancelled: their
        jobs cancelled by `[validation] cancel` if set, their machines given back. Returns
        the labels cancelled; raises HookFailed if a scale-down failed (kept for a retry)."""
        done: list[str] = []
        for record in list(self.records.values()):
            if record.ended or (labels is not None and record.label not in labels):
                continue
            error = "cancelled by the operator"
            if self.settings.cancel and record.job_id and record.job_id != "unknown":
                try:
                    self._hook("cancel", self.settings.cancel, record, f"parcel-{record.label}.cancel.log")
                except HookFailed as exc:
                    error = f"cancelled by the operator; {exc}"
            record = self._put(replace(record, outcome=JobOutcome.CANCELLED, ended_at=utc_now(), error=error))
            self._scale_down(record)
            done.append(record.label)
        if self.scale_failures:
            raise HookFailed(self.scale_failures[0])
        return done


def run_async(
    config: CampaignConfig,
    jobs: list[ParcelJob],
    *,
    force: bool,
    watch: Watch,
    started: Started,
    cancel: threading.Event | None = None,
    book: RecordBook | None = None,
    on_line: LineSink | None = None,
    image: str = "",
    run: str | None = None,
) -> list[JobEnd]:
    """`CommandBackend.run` for `[validation] submit`: the same jobs and result, plus where the
    records live, where hook output goes, and the image tag for `{image}`."""
    submitter = Submitter(config, book or default_book(config), on_line=on_line, cancel=cancel, image=image)
    return submitter.run(jobs, force=force, watch=watch, started=started, run=run)


def submitted_since(config: CampaignConfig, labels: list[str], book: RecordBook | None = None) -> str | None:
    """When the earliest still-running job of these parcels was submitted (None if none
    runs): a resumed run follows those jobs' heartbeats, older than the run itself."""
    records = (book or default_book(config)).load()
    times = [r.submitting_at for label in labels if (r := records.get(label)) is not None and not r.ended and r.submitting_at]
    return min(times, default=None)


def release_machines(config: CampaignConfig, book: RecordBook | None = None, on_line: LineSink | None = None) -> MachineUsage:
    """Scale down every parcel that ended while still holding machines (a run that died
    between a job's end and its scale-down); what still runs keeps its machines."""
    submitter = Submitter(config, book or default_book(config), on_line=on_line)
    submitter._retry_scale_downs()
    if submitter.scale_failures:
        raise HookFailed(submitter.scale_failures[0])
    return held_machines(config, submitter.records)

