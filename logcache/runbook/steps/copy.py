"""Runbook step 3 (and the re-copy of failed paths): copy every cached prefix from the
ephemeral to the permanent store, verify it, record each dataset's outcome."""

from __future__ import annotations

import threading
from dataclasses import replace

from logcache.campaign import Campaign
from logcache.copy import connections_needed, copy_entries
from logcache.copy.events import CopyReport, DatasetFailed, DatasetStatus, DatasetVerified
from logcache.entries import select_entries
from logcache.errors import UsageError
from logcache.runbook.events import EventSink, RunbookEvent, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, StepFailed, StepInterrupted, record_failed_path, run_as
from logcache.runbook.queries import entries
from logcache.stores import open_destination, open_source
from state.model import CopyStatus, FailedPathOrigin, Resolution, StepName


def run(
    campaign: Campaign,
    on_event: EventSink = ignore,
    cancel: threading.Event | None = None,
    *,
    only: list[str] | None = None,
    concurrency: int | None = None,
    overwrite: bool | None = None,
    step: StepName | None = StepName.COPY,
) -> CopyReport:
    """Copy, verify, record per dataset. Unknown `only` names, a bad concurrency and
    stores that cannot be opened are refused before the state changes."""
    on_event = journaled(campaign, on_event)
    config = campaign.config
    conc = config.copy.concurrency if concurrency is None else concurrency
    if conc < 1:
        raise UsageError(f"--concurrency must be at least 1, not {conc}")
    cached = entries(campaign)
    select_entries(cached, only)
    if only is None:
        # Excluded datasets stay out of the patch: a whole copy need not reach them.
        excluded = campaign.state.excluded()
        cached = [e for e in cached if e.name not in excluded]
    overwriting = config.copy.overwrite if overwrite is None else overwrite
    source = open_source(config, connections_needed(conc))
    destination = open_destination(config, connections_needed(conc))

    def record(event: RunbookEvent) -> None:
        if isinstance(event, DatasetVerified | DatasetFailed):
            ds = campaign.state.dataset(event.name)
            verified = isinstance(event, DatasetVerified)
            if ds is not None:
                # A re-copy on purpose: rows still invalid after it put the source at fault.
                recopied = verified and overwriting and only is not None
                campaign.state.put_dataset(
                    replace(
                        ds,
                        copy_status=CopyStatus.VERIFIED if verified else CopyStatus.FAILED,
                        reason=event.reason if isinstance(event, DatasetFailed) else "",
                        recopies=ds.recopies + 1 if recopied else ds.recopies,
                    )
                )
            if isinstance(event, DatasetFailed):
                record_failed_path(campaign, event.url, FailedPathOrigin.COPY, event.name, on_event)
            else:
                for fp in campaign.state.open_failed_paths():
                    if fp.dataset_name == event.name:
                        fp.resolution = Resolution.RECOPIED
            campaign.mark()
        on_event(event)

    def work() -> Done[CopyReport]:
        report = copy_entries(
            cached,
            source,
            destination,
            only=only,
            concurrency=conc,
            overwrite=overwriting,
            on_event=record,
            cancel=cancel,
        )
        if report.interrupted:
            raise StepInterrupted(report)
        failed = report.with_status(DatasetStatus.FAILED) + report.with_status(DatasetStatus.CONFLICT)
        if failed:
            raise StepFailed(
                f"{len(failed)} datasets not copied ({', '.join(d.name for d in failed[:3])}); see the failed paths, then copy again", report
            )
        verified = len(report.with_status(DatasetStatus.VERIFIED))
        return Done(report, f"{verified} verified, {report.objects_copied} objects copied, {report.objects_skipped} already there")

    return run_as(campaign, step, only is not None, work, on_event)
