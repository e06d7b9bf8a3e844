"""The runbook's events in the campaign's journal (`events.jsonl`), whoever drives.

Every step runner and the driver wrap the front end's sink with `journaled`, so a refresh
driven by `logcache run`, by one step command or by the app leaves the same history for
`logcache log` and the app's Log pane. Only what is worth reading later is written: a
step's start and end, failed paths, copy failures, a parcel's change of status, hook
output and notices; progress ticks are not.
"""

from __future__ import annotations

from logcache.campaign import Campaign
from logcache.runbook import journal
from logcache.runbook.events import (
    CopyPlanned,
    DatasetConflict,
    DatasetFailed,
    EventSink,
    FailedPathFound,
    HookOutput,
    Notice,
    ParcelUpdate,
    RunbookEvent,
    StepEnded,
    StepStarted,
)
from state.model import ParcelStatus, StepStatus, operator, utc_now


def line_of(event: RunbookEvent, parcels: dict[str, ParcelStatus] | None = None) -> tuple[str, str] | None:
    """(text, level) of the journal line for `event`, or None when it is not worth one.
    A parcel's update is worth one when its status changed from the one in `parcels`
    (updated here)."""
    match event:
        case StepStarted(step=step):
            return f"{step.value}: started", "info"
        case StepEnded(step=step, status=status, note=note):
            level = "error" if status is StepStatus.FAILED else "info"
            return f"{step.value}: {status.value}" + (f": {note}" if note else ""), level
        case FailedPathFound(url=url, origin=origin, dataset_name=name):
            return f"failed path ({origin.value}, {name or '-'}): {url}", "warning"
        case CopyPlanned(datasets=datasets, objects_to_copy=objects):
            return f"copy: {len(datasets):,} datasets, {objects:,} objects to copy", "info"
        case DatasetFailed(name=name, reason=reason):
            return f"copy failed: {name}: {reason}", "warning"
        case DatasetConflict(name=name, conflicts=conflicts):
            return f"copy conflict: {name}: {len(conflicts)} objects differ at the destination", "warning"
        case ParcelUpdate(label=label, status=status):
            seen = {} if parcels is None else parcels
            if seen.get(label) is status:
                return None
            seen[label] = status
            level = "warning" if status in (ParcelStatus.FAILED, ParcelStatus.STUCK) else "info"
            return f"parcel {label} ({event.backend} {event.job_id}): {status.value}" + (f": {event.error}" if event.error else ""), level
        case HookOutput(hook=hook, line=line):
            return f"[{hook}] {line}", "info"
        case Notice(text=text):
            return text, "info"
    return None


class JournalSink:
    """An `EventSink` that writes each event worth it to the journal, then passes it on.
    A journal that cannot be written is said once (a `Notice`) and the work goes on."""

    def __init__(self, campaign: Campaign, inner: EventSink) -> None:
        self.campaign = campaign
        self.inner = inner
        self.operator = operator()
        self.parcels: dict[str, ParcelStatus] = {}
        self.broken = False

    def __call__(self, event: RunbookEvent) -> None:
        line = line_of(event, self.parcels)
        if line is not None:
            self.write(*line)
        self.inner(event)

    def write(self, text: str, level: str = "info") -> None:
        """One line in the journal (what the driver says that is no event, too)."""
        if self.broken:
            return
        try:
            journal.append(self.campaign.config.work_dir, journal.JournalEntry(utc_now(), self.operator, text, level))
        except OSError as exc:
            self.broken = True
            self.inner(Notice(f"the event log cannot be written: {exc.strerror or exc}; the work goes on"))


def journaled(campaign: Campaign, on_event: EventSink) -> EventSink:
    """`on_event`, journaling as it goes; unchanged when it already journals this
    campaign (a step run by the driver, or inside another step) or when the campaign is
    read-only (nothing is driven, so nothing happens to journal)."""
    if campaign.read_only or (isinstance(on_event, JournalSink) and on_event.campaign is campaign):
        return on_event
    return JournalSink(campaign, on_event)
