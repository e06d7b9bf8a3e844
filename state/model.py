"""The machine-written campaign state: the runbook's steps and what each one found.

Per-object copy progress is deliberately absent: resuming a copy lists the destination,
so the state stays small however many objects a refresh moves.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, TypeVar

SCHEMA_VERSION = 1
# The note of a step stopped before its end, left pending to resume.
INTERRUPTED_NOTE = "interrupted; run it again to resume"

T = TypeVar("T")


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
    # Its driver stopped (a signal, a quit, a kill) while it ran on this machine: nothing
    # runs it any more; the next validation runs it again.
    INTERRUPTED = "interrupted"


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


@dataclass(frozen=True)
class CacheRecord:
    """One dataset's cache entry as discovery found it, declared once: the library's
    `logcache.entries.CacheEntry` is this record, and `DatasetState` is it plus how its
    copy went (state imports nothing of logcache, so the record lives here)."""

    dataset: str
    kind: str
    t: int
    source: str
    destination: str
    objects: int
    bytes: int

    @property
    def name(self) -> str:
        """`<shard>/<kind>`: the registry's key of the entry."""
        return f"{self.dataset}/{self.kind}"


@dataclass(frozen=True)
class DatasetState(CacheRecord):
    """A dataset of the campaign: its entry, then its copy's status (the state file keeps
    the record's fields and these side by side, one table per dataset)."""

    copy_status: CopyStatus = CopyStatus.PENDING
    reason: str = ""
    recopies: int = 0  # re-copies with overwrite after an invalid validation row

    @classmethod
    def of(cls, record: CacheRecord, copy_status: CopyStatus = CopyStatus.PENDING, reason: str = "", recopies: int = 0) -> DatasetState:
        entry = {f.name: getattr(record, f.name) for f in fields(CacheRecord)}
        return cls(**entry, copy_status=copy_status, reason=reason, recopies=recopies)


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
class Exclusion:
    """A dataset left out of the registry patch: it keeps its previous cache entry."""

    name: str  # `<shard>/<kind>`
    reason: str
    at: str
    operator: str


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
    excluded: int = 0  # invalid rows of excluded datasets: accounted for, not counted in `invalid`
    # Rows that could not be checked (no result, or the store stopped the check): neither
    # valid nor invalid. `invalid` counts only what the data shows.
    not_checked: int = 0

    @property
    def all_valid(self) -> bool:
        """Every row valid, or left out of the patch on purpose; none left unchecked."""
        return self.rows > 0 and self.invalid == 0 and self.not_checked == 0


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
    exclusions: list[Exclusion] = field(default_factory=list)
    updated_at: str = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        # Indexes by name and by URL: plain attributes, not fields, so never persisted or
        # compared. Steps assign or extend `datasets` and `failed_paths` freely; an index is
        # rebuilt when its list is another object or has another length, and a hit is
        # checked against the list, so it never answers with a stale entry. (Entries are
        # never swapped in place for one with another key.)
        self._datasets_index = _Index[DatasetState](lambda d: d.name)
        self._failed_index = _Index[FailedPath](lambda fp: fp.url)

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
        """The dataset named `<shard>/<kind>`, in O(1)."""
        return self._datasets_index.get(self.datasets, name)

    def put_dataset(self, dataset: DatasetState) -> None:
        """Put `dataset` in the place of the one of its name (datasets are immutable
        records: a change is a new one); a dataset the campaign does not hold is ignored."""
        at = self._datasets_index.position(self.datasets, dataset.name)
        if at is not None:
            self.datasets[at] = dataset

    def failed_path(self, url: str) -> FailedPath | None:
        return self._failed_index.get(self.failed_paths, url)

    def add_failed_path(self, url: str, origin: FailedPathOrigin, dataset_name: str) -> bool:
        """Record a failed path once; True if it was new (or had been resolved before)."""
        fp = self.failed_path(url)
        if fp is not None:
            if fp.resolution == Resolution.OPEN:
                return False
            fp.resolution, fp.origin, fp.found_at, fp.note = Resolution.OPEN, origin, utc_now(), ""
            return True
        self.failed_paths.append(FailedPath(url, origin, dataset_name, utc_now()))
        return True

    def open_failed_paths(self) -> list[FailedPath]:
        return [fp for fp in self.failed_paths if fp.resolution == Resolution.OPEN]

    def interrupt_parcels(self, detached: Callable[[ParcelState], bool]) -> bool:
        """Parcels marked running (or stuck) that nothing runs any more become interrupted;
        `detached` ones (jobs of an asynchronous submitter, which outlive their driver) stay
        as they are. True if any changed."""
        changed = False
        for parcel in self.parcels:
            if parcel.status in (ParcelStatus.RUNNING, ParcelStatus.STUCK) and not detached(parcel):
                parcel.status, changed = ParcelStatus.INTERRUPTED, True
        return changed

    def settle(self, detached: Callable[[ParcelState], bool]) -> bool:
        """What the state says once no driver runs: no step is running (it is pending again,
        to resume) and no parcel of this machine is (`interrupt_parcels`). True if any
        changed."""
        changed = self.interrupt_parcels(detached)
        for step in self.steps:
            if step.status is StepStatus.RUNNING:
                step.status, step.finished_at, step.note, changed = StepStatus.PENDING, None, INTERRUPTED_NOTE, True
        return changed

    def excluded(self) -> set[str]:
        """The names of the datasets left out of the registry patch."""
        return {x.name for x in self.exclusions}

    def exclude(self, name: str, reason: str, who: str | None = None) -> None:
        """Leave `name` out of the patch (again: the latest reason wins); its open failed
        paths are no longer something to fix."""
        self.exclusions = [x for x in self.exclusions if x.name != name]
        self.exclusions.append(Exclusion(name, reason, utc_now(), who or operator()))
        for fp in self.failed_paths:
            if fp.dataset_name == name and fp.resolution in (Resolution.OPEN, Resolution.RECOPIED):
                fp.resolution, fp.note = Resolution.IGNORED, f"excluded: {reason}"



class _Index(Generic[T]):
    """Position by key in a list that its owner may replace or extend at any time."""

    def __init__(self, key_of: Callable[[T], str]) -> None:
        self.key_of = key_of
        self.at: dict[str, int] = {}
        self.of: tuple[int, int] = (0, -1)  # (id, length) of the list indexed

    def get(self, items: list[T], key: str) -> T | None:
        at = self.position(items, key)
        return None if at is None else items[at]

    def position(self, items: list[T], key: str) -> int | None:
        if self.of != (id(items), len(items)):
            self._rebuild(items)
        at = self.at.get(key)
        if at is None or self.key_of(items[at]) == key:
            return at
        # The entry there was replaced in place by another key's: rebuild once and look again.
        self._rebuild(items)
        return self.at.get(key)

    def _rebuild(self, items: list[T]) -> None:
        self.at = {}
        for i, item in enumerate(items):
            self.at.setdefault(self.key_of(item), i)  # the first of equal keys, as a scan finds
        self.of = (id(items), len(items))
