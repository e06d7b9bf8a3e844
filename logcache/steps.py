"""The runbook's steps over a campaign: the one place that turns library results into
campaign state. The CLI, the headless driver and the TUI all call these functions.

Each step marks itself running, does its work through the library, records what it found
(datasets, failed paths, the patch, the aggregate) and marks itself done or failed. Long
steps report progress through a plain callback and stop early when `cancel` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from logcache.campaign import Campaign
from logcache.catalog import Transaction, open_catalog, pick_transaction
from logcache.copy import connections_needed, copy_entries
from logcache.copy.events import CopyEvent, CopyReport, DatasetFailed, DatasetStatus, DatasetVerified
from logcache.discover import Discovery, DiscoverProgress, discover
from logcache.entries import CSV_NAME, CacheEntry, read_entries, write_entries
from logcache.errors import LogcacheError, UsageError
from logcache.registry import RegistryPatch, apply_patch, default_patch_path, export_patch, plan_registry
from logcache.stores import open_destination, open_source
from state.errors import StateError
from state.model import MANUAL_STEPS, CopyStatus, DatasetState, Resolution, StepName, StepStatus

Callback = Callable[[Any], None]


class StepFailed(LogcacheError):
    """A step could not finish; the message says why and what to do."""


def _run(campaign: Campaign, name: StepName, work: Callable[[], str]) -> str:
    """Run `work` as step `name`: running -> done with its note, or failed with the error."""
    campaign.state.start_step(name)
    campaign.save()
    try:
        note = work()
    except (LogcacheError, StateError) as exc:
        campaign.state.finish_step(name, StepStatus.FAILED, note=exc.one_line())
        campaign.save()
        raise
    except KeyboardInterrupt:
        campaign.state.finish_step(name, StepStatus.PENDING, note="interrupted; run it again to resume")
        campaign.save()
        raise
    campaign.state.finish_step(name, StepStatus.DONE, note=note)
    campaign.save()
    return note


def transactions(campaign: Campaign) -> list[Transaction]:
    return open_catalog(campaign.config).transactions()


def pick(campaign: Campaign, transaction_id: str | None = None) -> Transaction:
    """Runbook step 1: choose the nightly run (default: the latest succeeded one)."""
    chosen: list[Transaction] = []

    def work() -> str:
        tx = pick_transaction(transactions(campaign), transaction_id)
        if campaign.state.transaction_id not in (None, tx.id):
            campaign.state.reset_from(StepName.DISCOVER)
            campaign.state.datasets = []
        campaign.state.transaction_id = tx.id
        chosen.append(tx)
        return f"{tx.id} ({tx.status}, finished {tx.finished_at})"

    _run(campaign, StepName.PICK_TRANSACTION, work)
    return chosen[0]


def chosen_transaction(campaign: Campaign) -> Transaction:
    if campaign.state.transaction_id is None:
        return pick(campaign)
    return pick_transaction(transactions(campaign), campaign.state.transaction_id)


def entries_path(campaign: Campaign) -> Path:
    return campaign.config.work_dir / CSV_NAME


def entries(campaign: Campaign) -> list[CacheEntry]:
    return read_entries(entries_path(campaign))


def run_discover(campaign: Campaign, on_progress: Callable[[DiscoverProgress], None] | None = None) -> Discovery:
    """Runbook step 2: T, objects and paths per dataset -> cache-entries.csv and the state."""
    found: list[Discovery] = []

    def work() -> str:
        tx = chosen_transaction(campaign)
        config = campaign.config
        result = discover(tx, open_source(config), open_destination(config), config.copy.concurrency, on_progress)
        write_entries(entries_path(campaign), result.entries)
        previous = {d.name: d for d in campaign.state.datasets}
        campaign.state.datasets = [dataset_state(e, previous.get(e.name)) for e in result.entries]
        for finding in result.findings:
            if finding.kind == "missing-path":
                campaign.state.add_failed_path(finding.message.removeprefix("Path does not exist: "), "discover", finding.name)
        found.append(result)
        return f"{len(result.entries)} datasets, {len(result.findings)} findings"

    _run(campaign, StepName.DISCOVER, work)
    return found[0]


def dataset_state(entry: CacheEntry, previous: DatasetState | None) -> DatasetState:
    same = previous is not None and (previous.t, previous.destination) == (entry.t, entry.destination)
    return DatasetState(
        entry.dataset,
        entry.kind,
        entry.t,
        entry.source,
        entry.destination,
        entry.objects,
        entry.bytes,
        previous.copy_status if same and previous else CopyStatus.PENDING,
        previous.reason if same and previous else "",
    )


def run_copy(
    campaign: Campaign,
    only: list[str] | None = None,
    on_event: Callable[[CopyEvent], None] | None = None,
    cancel: threading.Event | None = None,
    concurrency: int | None = None,
    overwrite: bool | None = None,
    step: StepName = StepName.COPY,
) -> CopyReport:
    """Runbook step 3 (and the re-copy of failed paths): copy, verify, record per dataset."""
    reports: list[CopyReport] = []
    config = campaign.config
    conc = concurrency or config.copy.concurrency

    def record(event: CopyEvent) -> None:
        if isinstance(event, DatasetVerified | DatasetFailed):
            ds = campaign.state.dataset(event.name)
            if ds is not None:
                verified = isinstance(event, DatasetVerified)
                ds.copy_status = CopyStatus.VERIFIED if verified else CopyStatus.FAILED
                ds.reason = "" if verified else event.reason
            if isinstance(event, DatasetFailed):
                campaign.state.add_failed_path(event.url, "copy", event.name)
            else:
                for fp in campaign.state.open_failed_paths():
                    if fp.dataset_name == event.name and fp.origin == "copy":
                        fp.resolution = Resolution.RECOPIED
            campaign.mark()
        if on_event:
            on_event(event)

    def work() -> str:
        report = copy_entries(
            entries(campaign),
            open_source(config, connections_needed(conc)),
            open_destination(config, connections_needed(conc)),
            only=only,
            concurrency=conc,
            overwrite=config.copy.overwrite if overwrite is None else overwrite,
            on_event=record,
            cancel=cancel,
        )
        reports.append(report)
        if report.interrupted:
            raise KeyboardInterrupt
        failed = report.with_status(DatasetStatus.FAILED) + report.with_status(DatasetStatus.CONFLICT)
        note = f"{len(report.with_status(DatasetStatus.VERIFIED))} verified, {report.objects_copied} objects copied, {report.objects_skipped} already there"
        if failed:
            raise StepFailed(f"{len(failed)} datasets not copied ({', '.join(d.name for d in failed[:3])}); see the failed paths, then copy again")
        return note

    # A partial copy (`--only`) before the whole copy has been done does not finish the step.
    partial = only is not None and step is StepName.COPY and campaign.state.step(step).status is not StepStatus.DONE
    try:
        if partial:
            work()
        else:
            _run(campaign, step, work)
    except KeyboardInterrupt:
        if reports and cancel is not None and cancel.is_set():
            return reports[0]
        raise
    except StepFailed:
        if reports:
            return reports[0]
        raise
    return reports[0]


def registry_patch(campaign: Campaign) -> RegistryPatch:
    return plan_registry(campaign.config, entries(campaign))


def run_registry_export(campaign: Campaign, out: Path | None = None) -> Path:
    """Runbook step 4: write the registry patch that becomes the PR."""
    written: list[Path] = []

    def work() -> str:
        patch = registry_patch(campaign)
        target = out or default_patch_path(campaign.config, date.today())
        path = export_patch(patch, target)
        campaign.state.patch_path = str(path)
        written.append(path)
        return f"{patch.update.summary()} -> {path}"

    _run(campaign, StepName.REGISTRY_EXPORT, work)
    return written[0]


def apply_registry(campaign: Campaign) -> str:
    """Apply the patch to the registry's work tree on a new branch (where it is in git)."""
    result = apply_patch(registry_patch(campaign), date.today())
    return f"branch {result.branch}, commit {result.commit}" if result.branch else f"edited {result.path}"


def confirm_manual(campaign: Campaign, name: StepName, note: str) -> None:
    """Record a manual step (build the image, merge the PR) as done by this operator."""
    if name not in MANUAL_STEPS:
        raise UsageError(f"{name} is not a manual step; manual steps are {', '.join(sorted(MANUAL_STEPS))}")
    campaign.state.finish_step(name, StepStatus.DONE, note=note)
    campaign.save()


def resolve_failed_paths(campaign: Campaign, urls: list[str], resolution: Resolution) -> None:
    for fp in campaign.state.failed_paths:
        if fp.url in urls:
            fp.resolution = resolution
    campaign.mark()
