"""What a copy run reports: plain dataclasses, no UI.

`copy_entries` calls `on_event` with these, from the thread that called it. Progress is
throttled by the engine (about ten per second); every per-dataset state change is sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class DatasetStatus(str, Enum):
    PENDING = "pending"  # listed, copies not finished yet
    VERIFIED = "verified"  # the destination holds the source's keys, each with its bytes (plan.content_equal)
    FAILED = "failed"  # a missing source, a copy error or a failed verification
    CONFLICT = "conflict"  # destination objects differ from the source; left untouched
    PLANNED = "planned"  # dry run: listed and planned, nothing written
    INTERRUPTED = "interrupted"  # the run was cancelled before this dataset was done


@dataclass(frozen=True)
class Conflict:
    """A destination object whose content differs from its source object."""

    source_url: str
    destination_url: str
    source_size: int
    destination_size: int
    source_etag: str
    destination_etag: str


@dataclass(frozen=True)
class Failure:
    name: str
    url: str
    reason: str


@dataclass(frozen=True)
class DatasetPlan:
    """One dataset's listing, compared with its destination."""

    name: str
    source_url: str
    destination_url: str
    objects: int
    bytes: int
    objects_to_copy: int
    bytes_to_copy: int
    objects_present: int
    conflicts: int


@dataclass(frozen=True)
class CopyPlanned:
    datasets: tuple[DatasetPlan, ...]
    dry_run: bool

    @property
    def objects(self) -> int:
        return sum(d.objects for d in self.datasets)

    @property
    def bytes(self) -> int:
        return sum(d.bytes for d in self.datasets)

    @property
    def objects_to_copy(self) -> int:
        return sum(d.objects_to_copy for d in self.datasets)

    @property
    def bytes_to_copy(self) -> int:
        return sum(d.bytes_to_copy for d in self.datasets)


@dataclass(frozen=True)
class DatasetProgress:
    name: str
    status: DatasetStatus
    objects_done: int
    objects_total: int  # objects this run copies (present ones are not counted)
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True)
class CopyProgress:
    objects_done: int
    objects_total: int
    bytes_done: int
    bytes_total: int
    objects_per_s: float
    bytes_per_s: float
    eta_s: float | None  # None until a rate is known
    elapsed_s: float
    # Only the datasets whose progress changed since the previous CopyProgress (a consumer
    # folds them into what it has), so a tick's size does not grow with the campaign.
    datasets: tuple[DatasetProgress, ...]


@dataclass(frozen=True)
class DatasetVerified:
    name: str
    url: str  # the destination prefix
    objects: int
    bytes: int


@dataclass(frozen=True)
class DatasetFailed:
    name: str
    url: str
    reason: str


@dataclass(frozen=True)
class DatasetConflict:
    name: str
    url: str
    conflicts: tuple[Conflict, ...]
    overwritten: bool


@dataclass
class DatasetResult:
    name: str
    source_url: str
    destination_url: str
    status: DatasetStatus = DatasetStatus.PENDING
    reason: str | None = None
    objects: int = 0  # at the source
    bytes: int = 0
    objects_copied: int = 0
    objects_skipped: int = 0
    bytes_copied: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass
class CopyReport:
    datasets: dict[str, DatasetResult]
    failures: list[Failure]
    interrupted: bool
    dry_run: bool
    elapsed_s: float

    @property
    def objects_copied(self) -> int:
        return sum(d.objects_copied for d in self.datasets.values())

    @property
    def objects_skipped(self) -> int:
        return sum(d.objects_skipped for d in self.datasets.values())

    @property
    def bytes_copied(self) -> int:
        return sum(d.bytes_copied for d in self.datasets.values())

    def with_status(self, status: DatasetStatus) -> list[DatasetResult]:
        return [d for d in self.datasets.values() if d.status is status]

    @property
    def ok(self) -> bool:
        """Every requested dataset verified (or, in a dry run, planned without trouble)."""
        want = DatasetStatus.PLANNED if self.dry_run else DatasetStatus.VERIFIED
        return not self.interrupted and all(d.status is want for d in self.datasets.values())

    def to_json(self) -> dict[str, Any]:
        datasets = []
        for d in self.datasets.values():
            item = asdict(d)
            item["status"] = d.status.value
            datasets.append(item)
        return {
            "ok": self.ok,
            "interrupted": self.interrupted,
            "dry_run": self.dry_run,
            "elapsed_s": round(self.elapsed_s, 3),
            "objects_copied": self.objects_copied,
            "objects_skipped": self.objects_skipped,
            "bytes_copied": self.bytes_copied,
            "counts": {s.value: len(self.with_status(s)) for s in DatasetStatus if self.with_status(s)},
            "failures": [asdict(f) for f in self.failures],
            "datasets": datasets,
        }


@dataclass(frozen=True)
class CopyFinished:
    report: CopyReport


CopyEvent = CopyPlanned | CopyProgress | DatasetVerified | DatasetFailed | DatasetConflict | CopyFinished
