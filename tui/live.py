"""What the app shows that is not in the campaign state: the latest progress of the work
in flight, folded from the runbook's events before any widget sees them, what the app's
readers loaded (the registry diff, the validation results, the machines parcels hold)
and the lines for the Log. Plain data; panes read it when they refresh.

Folding is cheap per event, and it records which datasets changed, so a pane redraws
only what changed and what is on screen, whatever the size of the campaign."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from logcache.runbook import events as ev
from logcache.runbook.journal import JournalEntry
from logcache.runbook.next_actions import Action
from logcache.runbook.queries import MachineUsage, ResultRow
from tui.statuses import RowStatus

RATE_SAMPLES = 240  # the Copy pane's sparkline: about a minute at four refreshes a second
LOG_LINES = 5000  # what the Log pane keeps
# A dataset's row keeps these once reached: later progress ticks say less.
SETTLED = frozenset({RowStatus.VERIFIED, RowStatus.FAILED, RowStatus.CONFLICT})

# A line of this session (when, text) or an entry of the campaign's event log.
Logged = tuple[datetime, str] | JournalEntry


@dataclass
class DatasetRow:
    name: str
    objects_done: int = 0
    objects_total: int = 0
    bytes_total: int = 0
    status: RowStatus = RowStatus.PENDING
    reason: str = ""


@dataclass(frozen=True)
class RegistryDiff:
    summary: str  # its counts, the datasets left out among them
    diff: str
    excluded: tuple[tuple[str, str], ...] = ()  # (dataset, reason) of each left out


@dataclass
class Live:
    copy: ev.CopyProgress | None = None
    datasets: dict[str, DatasetRow] = field(default_factory=dict)
    # Bumped whenever a dataset row appears, so panes know when their row set (not just
    # cells) must be rebuilt; `failed` does the same for the failures-only view.
    generation: int = 0
    parcels: dict[str, ev.ParcelUpdate] = field(default_factory=dict)
    discover: ev.DiscoverProgress | None = None
    rates: deque[float] = field(default_factory=lambda: deque(maxlen=RATE_SAMPLES))
    failed: int = 0
    machines: MachineUsage | None = None  # held by parcels of an asynchronous submitter
    # Replaced (never changed in place) by the app's readers: a pane compares identities.
    results: list[ResultRow] = field(default_factory=list)  # the aggregate, or the latest result of each pair
    diff: RegistryDiff | None = None
    actions: list[Action] = field(default_factory=list)  # what to do about every finding
    log: deque[Logged] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    logged: int = 0  # lines ever added to `log`, so the Log pane knows which are new
    # Workers fold in their threads; the app reads while holding this.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _row(self, name: str) -> DatasetRow:
        row = self.datasets.get(name)
        if row is None:
            row = self.datasets[name] = DatasetRow(name)
            self.generation += 1
        return row

    def add_log(self, item: Logged) -> None:
        self.log.append(item)
        self.logged += 1

    def fold(self, event: ev.RunbookEvent) -> str | None:
        """Take in one event; returns a line for the Log when it is worth one.
        The caller holds `lock`."""
        match event:
            case ev.CopyPlanned(datasets=plans):
                for plan in plans:
                    row = self._row(plan.name)
                    row.objects_total, row.bytes_total = plan.objects, plan.bytes
                    row.objects_done = plan.objects_present
                    row.status = RowStatus.COPYING if plan.objects_to_copy else RowStatus.PRESENT
                self.copy = None
                self.rates.clear()
                return f"copy: {len(plans):,} datasets, {event.objects_to_copy:,} objects to copy"
            case ev.CopyProgress():
                self.copy = event
                self.rates.append(event.objects_per_s)
                for p in event.datasets:
                    row = self._row(p.name)
                    present = row.objects_total - p.objects_total
                    row.objects_done = present + p.objects_done
                    # "pending" says less than the "copying" or "present" of the plan.
                    if p.status.value != RowStatus.PENDING and row.status not in SETTLED:
                        row.status = RowStatus(p.status.value)
                return None
            case ev.DatasetVerified(name=name, objects=objects):
                row = self._row(name)
                row.objects_done, row.status, row.reason = row.objects_total or objects, RowStatus.VERIFIED, ""
                return None
            case ev.DatasetFailed(name=name, reason=reason):
                row = self._row(name)
                row.status, row.reason = RowStatus.FAILED, reason
                self.failed += 1
                return f"copy failed: {name}: {reason}"
            case ev.DatasetConflict(name=name, conflicts=conflicts):
                row = self._row(name)
                row.status, row.reason = RowStatus.CONFLICT, f"{len(conflicts)} objects differ at the destination"
                self.failed += 1
                return f"copy conflict: {name}: {row.reason}"
            case ev.ParcelUpdate(label=label):
                before = self.parcels.get(label)
                self.parcels[label] = event
                if before is None or before.status != event.status:
                    return f"parcel {label} ({event.backend} {event.job_id}): {event.status}" + (f": {event.error}" if event.error else "")
                return None
            case ev.DiscoverProgress():
                self.discover = event
                return None
            case ev.StepStarted(step=step):
                return f"{step.value}: started"
            case ev.StepEnded(step=step, status=status, note=note):
                return f"{step.value}: {status.value}" + (f": {note}" if note else "")
            case ev.HookOutput(hook=hook, line=line):
                return f"[{hook}] {line}"
            case ev.Notice(text=text):
                return text
            case ev.FailedPathFound(url=url, origin=origin, dataset_name=dataset_name):
                return f"failed path ({origin.value}, {dataset_name or '-'}): {url}"
            case ev.CopyFinished():
                return None  # the copy step's end says it
