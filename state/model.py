"""The machine-written campaign state: the runbook's steps and what each one found.

Per-object copy progress is deliberately absent: resuming a copy lists the destination,
so the state stays small however many objects a refresh moves.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

SCHEMA_VERSION = 1


class StepName(StrEnum):
    # The runbook's steps, in order. What each one is (title, manual or not, its runner,
    # what to do next) is in logcache/runbook/spec.py; the state only records progress.
    PICK_TRANSACTION = "pick-transaction"
    DISCOVER = "discover"
    COPY = "copy"
    REGISTRY_EXPORT = "registry-export"
    BUILD_IMAGE = "build-image"
    VALIDATE = "validate"
    RECOPY_FAILED = "recopy-failed"
    AGGREGATE = "aggregate"
    MERGE_PR = "merge-pr"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class CopyStatus(StrEnum):
    PENDING = "pending"
    COPIED = "copied"
    VERIFIED = "verified"
    FAILED = "failed"


class ParcelStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STUCK = "stuck"


class FailedPathOrigin(StrEnum):
    """Where a failed path was found."""

    DISCOVER = "discover"
    COPY = "copy"
    VALIDATION = "validation"
    JOB_LOG = "job-log"  # a job's log named it (the command backend)


class Resolution(StrEnum):
    OPEN = "open"
    RECOPIED = "recopied"
    REVALIDATED = "revalidated"
    IGNORED = "ignored"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def operator() -> str:
    """`user@host`, or $LOGCACHE_OPERATOR where a shared account hides who is at the keys."""
    if os.environ.get("LOGCACHE_OPERATOR"):
        return os.environ["LOGCACHE_OPERATOR"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@dataclass
class Step:
    name: StepName
    status: StepStatus = StepStatus.PENDING
    started_at: str | None = None
    finished_at: str | None = None
    operator: str | None = None
    note: str = ""


@dataclass
class DatasetState:
    dataset: str
    kind: str
    t: int
    source: str
    destination: str
    objects: int
    bytes: int
    copy_status: CopyStatus = CopyStatus.PENDING
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.kind}"


@dataclass
class ParcelState:
    parcel_id: str
    backend: str
    job_id: str = ""
    status: ParcelStatus = ParcelStatus.PENDING
    last_heartbeat: str | None = None
    tasks_done: int = 0
    tasks_total: int = 0


@dataclass
class FailedPath:
    url: str
    origin: FailedPathOrigin
    dataset_name: str
    found_at: str
    resolution: Resolution = Resolution.OPEN
    note: str = ""


@dataclass
class ErrorKindCount:
    kind: str
    count: int


@dataclass
class AggregateSummary:
    rows: int
    valid: int
    invalid: int
    by_error_kind: list[ErrorKindCount]
    path: str
    at: str

    @property
    def all_valid(self) -> bool:
        return self.rows > 0 and self.invalid == 0


@dataclass
class CampaignState:
    campaign_name: str
    schema_version: int = SCHEMA_VERSION
    transaction_id: str | None = None
    steps: list[Step] = field(default_factory=lambda: [Step(name) for name in StepName])
    datasets: list[DatasetState] = field(default_factory=list)
    parcels: list[ParcelState] = field(default_factory=list)
    failed_paths: list[FailedPath] = field(default_factory=list)
    patch_path: str | None = None
    registry_branch: str | None = None  # where the patch was applied for the PR hook
    pr_url: str | None = None  # what the PR hook opened; shown on the merge-PR step
    image_tag: str | None = None  # what the image hook pushed; `{image}` of the validation jobs
    aggregate: AggregateSummary | None = None
    updated_at: str = field(default_factory=utc_now)

    def step(self, name: StepName) -> Step:
        return next(s for s in self.steps if s.name == name)

    def start_step(self, name: StepName, who: str | None = None) -> Step:
        step = self.step(name)
        step.status, step.started_at, step.finished_at = StepStatus.RUNNING, utc_now(), None
        step.operator = who or operator()
        return step

    def finish_step(self, name: StepName, status: StepStatus, note: str = "", who: str | None = None) -> Step:
        step = self.step(name)
        step.status, step.finished_at, step.note = status, utc_now(), note
        step.started_at = step.started_at or step.finished_at
        step.operator = who or step.operator or operator()
        return step

    def reset_from(self, name: StepName) -> None:
        """Mark `name` and every later step pending again (their inputs changed)."""
        later = False
        for step in self.steps:
            later = later or step.name == name
            if later:
                step.status, step.started_at, step.finished_at, step.note = StepStatus.PENDING, None, None, ""

    def next_step(self) -> Step | None:
        return next((s for s in self.steps if s.status not in (StepStatus.DONE, StepStatus.SKIPPED)), None)

    def dataset(self, name: str) -> DatasetState | None:
        return next((d for d in self.datasets if d.name == name), None)

    def add_failed_path(self, url: str, origin: FailedPathOrigin, dataset_name: str) -> bool:
        """Record a failed path once; True if it was new (or had been resolved before)."""
        for fp in self.failed_paths:
            if fp.url == url:
                if fp.resolution == Resolution.OPEN:
                    return False
                fp.resolution, fp.origin, fp.found_at, fp.note = Resolution.OPEN, origin, utc_now(), ""
                return True
        self.failed_paths.append(FailedPath(url, origin, dataset_name, utc_now()))
        return True

    def open_failed_paths(self) -> list[FailedPath]:
        return [fp for fp in self.failed_paths if fp.resolution == Resolution.OPEN]
