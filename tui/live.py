"""What the app shows that is not in the campaign state: the latest progress of the work
in flight, folded from the library's events. Plain data; widgets read it on refresh."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from logcache.copy import CopyPlanned, CopyProgress, DatasetConflict, DatasetFailed, DatasetVerified
from logcache.discover.footers import DiscoverProgress
from logcache.validation.orchestrate import ParcelUpdate


@dataclass
class DatasetRow:
    name: str
    objects_done: int = 0
    objects_total: int = 0
    bytes_total: int = 0
    status: str = "pending"


@dataclass
class Live:
    copy: CopyProgress | None = None
    datasets: dict[str, DatasetRow] = field(default_factory=dict)
    parcels: dict[str, ParcelUpdate] = field(default_factory=dict)
    discover: DiscoverProgress | None = None

    def fold(self, event: Any) -> str | None:
        """Take in one event; returns a line for the log when it is worth one."""
        if isinstance(event, CopyPlanned):
            for plan in event.datasets:
                row = self.datasets.setdefault(plan.name, DatasetRow(plan.name))
                row.objects_total, row.bytes_total = plan.objects, plan.bytes
                row.objects_done = plan.objects_present
                row.status = "copying" if plan.objects_to_copy else "present"
            return f"copy: {len(event.datasets)} datasets, {event.objects_to_copy:,} objects to copy"
        if isinstance(event, CopyProgress):
            self.copy = event
            for p in event.datasets:
                row = self.datasets.setdefault(p.name, DatasetRow(p.name))
                present = row.objects_total - p.objects_total
                row.objects_done = present + p.objects_done
                row.status = p.status.value
            return None
        if isinstance(event, DatasetVerified):
            row = self.datasets.setdefault(event.name, DatasetRow(event.name))
            row.objects_done, row.status = row.objects_total or event.objects, "verified"
            return None
        if isinstance(event, DatasetFailed):
            self.datasets.setdefault(event.name, DatasetRow(event.name)).status = "failed"
            return f"copy failed: {event.name}: {event.reason}"
        if isinstance(event, DatasetConflict):
            self.datasets.setdefault(event.name, DatasetRow(event.name)).status = "conflict"
            return f"copy conflict: {event.name}: {len(event.conflicts)} objects differ at the destination"
        if isinstance(event, ParcelUpdate):
            before = self.parcels.get(event.label)
            self.parcels[event.label] = event
            if before is None or before.status != event.status:
                return f"parcel {event.label} ({event.backend} {event.job_id}): {event.status}" + (f": {event.error}" if event.error else "")
            return None
        if isinstance(event, DiscoverProgress):
            self.discover = event
        return None
