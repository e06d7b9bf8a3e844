"""What the app shows that is not in the campaign state: the latest progress of the work
in flight, folded from the library's events before any widget sees them. Plain data;
panes read it when they refresh.

Folding is cheap per event, and it records which datasets changed, so a pane redraws
only what changed and what is on screen, whatever the size of the campaign."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from logcache.copy.events import CopyPlanned, CopyProgress, DatasetConflict, DatasetFailed, DatasetVerified
from logcache.discover.footers import DiscoverProgress
from logcache.runbook.events import FailedPathFound, HookOutput, Notice, StepEnded, StepStarted
from logcache.validation.jobs import MachineUsage
from logcache.validation.orchestrate import ParcelUpdate

RATE_SAMPLES = 240  # the Copy pane's sparkline: about a minute at four refreshes a second


@dataclass
class DatasetRow:
    name: str
    objects_done: int = 0
    objects_total: int = 0
    bytes_total: int = 0
    status: str = "pending"
    reason: str = ""


@dataclass
class Live:
    copy: CopyProgress | None = None
    datasets: dict[str, DatasetRow] = field(default_factory=dict)
    # Bumped whenever a dataset row appears, so panes know when their row set (not just
    # cells) must be rebuilt; `failed` does the same for the failures-only view.
    generation: int = 0
    parcels: dict[str, ParcelUpdate] = field(default_factory=dict)
    discover: DiscoverProgress | None = None
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_SAMPLES))
    failed: int = 0
    machines: MachineUsage | None = None  # held by parcels of an asynchronous submitter
    # Workers fold in their threads; the app reads while holding this.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _row(self, name: str) -> DatasetRow:
        row = self.datasets.get(name)
        if row is None:
            row = self.datasets[name] = DatasetRow(name)
            self.generation += 1
        return row

    def fold(self, event: Any) -> str | None:
        """Take in one event; returns a line for the Log when it is worth one.
        The caller holds `lock`."""
        if isinstance(event, CopyPlanned):
            for plan in event.datasets:
                row = self._row(plan.name)
                row.objects_total, row.bytes_total = plan.objects, plan.bytes
                row.objects_done = plan.objects_present
                row.status = "copying" if plan.objects_to_copy else "present"
            self.copy = None
            self.rates.clear()
            return f"copy: {len(event.datasets):,} datasets, {event.objects_to_copy:,} objects to copy"
        if isinstance(event, CopyProgress):
            self.copy = event
            self.rates.append(event.objects_per_s)
            for p in event.datasets:
                row = self.datasets.get(p.name) or self._row(p.name)
                present = row.objects_total - p.objects_total
                row.objects_done = present + p.objects_done
                # "pending" says less than the "copying" or "present" of the plan.
                if p.status.value != "pending" and row.status not in ("verified", "failed", "conflict"):
                    row.status = p.status.value
            return None
        if isinstance(event, DatasetVerified):
            row = self._row(event.name)
            row.objects_done, row.status, row.reason = row.objects_total or event.objects, "verified", ""
            return None
        if isinstance(event, DatasetFailed):
            row = self._row(event.name)
            row.status, row.reason = "failed", event.reason
            self.failed += 1
            return f"copy failed: {event.name}: {event.reason}"
        if isinstance(event, DatasetConflict):
            row = self._row(event.name)
            row.status, row.reason = "conflict", f"{len(event.conflicts)} objects differ at the destination"
            self.failed += 1
            return f"copy conflict: {event.name}: {row.reason}"
        if isinstance(event, ParcelUpdate):
            before = self.parcels.get(event.label)
            self.parcels[event.label] = event
            if before is None or before.status != event.status:
                return f"parcel {event.label} ({event.backend} {event.job_id}): {event.status}" + (f": {event.error}" if event.error else "")
            return None
        if isinstance(event, DiscoverProgress):
            self.discover = event
            return None
        if isinstance(event, StepStarted):
            return f"{event.step.value}: started"
        if isinstance(event, StepEnded):
            return f"{event.step.value}: {event.status.value}" + (f": {event.note}" if event.note else "")
        if isinstance(event, HookOutput):
            return f"[{event.hook}] {event.line}"
        if isinstance(event, Notice):
            return event.text
        if isinstance(event, FailedPathFound):
            return f"failed path ({event.origin.value}, {event.dataset_name or '-'}): {event.url}"
        return None
