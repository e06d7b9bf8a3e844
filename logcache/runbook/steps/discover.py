"""Runbook step 2: T, objects and paths per dataset -> cache-entries.csv and the state;
or, instead of steps 1 and 2, the entries of a hand-made CSV."""

from __future__ import annotations

import threading
from pathlib import Path

from logcache.campaign import Campaign
from logcache.discover.footers import Discovery, discover
from logcache.discover.import_csv import read_entries_csv
from logcache.entries import CacheEntry, write_entries
from logcache.errors import missing_paths
from logcache.runbook.events import EventSink, StepEnded, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, record_failed_path, run_step
from logcache.runbook.queries import entries_path
from logcache.runbook.steps.pick import chosen_transaction, forget_hook_outputs
from logcache.stores import open_destination, open_source
from state.model import DatasetState, FailedPathOrigin, StepName, StepStatus


def run(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> Discovery:
    on_event = journaled(campaign, on_event)
    tx = chosen_transaction(campaign, on_event, cancel)
    config = campaign.config
    source, destination = open_source(config), open_destination(config)

    def work() -> Done[Discovery]:
        result = discover(tx, source, destination, config.copy.concurrency, on_event, cancel)
        write_entries(entries_path(campaign), result.entries)
        previous = {d.name: d for d in campaign.state.datasets}
        campaign.state.datasets = [dataset_state(e, previous.get(e.name)) for e in result.entries]
        for finding in result.findings:
            if finding.kind == "missing-path":
                for url in missing_paths(finding.message):
                    record_failed_path(campaign, url, FailedPathOrigin.DISCOVER, finding.name, on_event)
        return Done(result, f"{len(result.entries)} datasets, {len(result.findings)} findings")

    return run_step(campaign, StepName.DISCOVER, work, on_event)


def import_entries(campaign: Campaign, csv: Path) -> list[CacheEntry]:
    """Seed the entries from a hand-made CSV (logcache's or the notebook's export) instead
    of steps 1 and 2: those are marked skipped and every later step starts again. A bad
    line is refused before anything is written."""
    imported = read_entries_csv(csv, open_destination(campaign.config))
    write_entries(entries_path(campaign), imported)
    state = campaign.state
    state.reset_from(StepName.COPY)
    state.datasets = [dataset_state(e, None) for e in imported]
    forget_hook_outputs(campaign)
    note = f"imported {len(imported)} entries from {csv}"
    for name in (StepName.PICK_TRANSACTION, StepName.DISCOVER):
        state.finish_step(name, StepStatus.SKIPPED, note=note)
    campaign.save()
    journal = journaled(campaign, ignore)
    for name in (StepName.PICK_TRANSACTION, StepName.DISCOVER):
        journal(StepEnded(name, StepStatus.SKIPPED, note))
    return imported


def dataset_state(entry: CacheEntry, previous: DatasetState | None) -> DatasetState:
    same = previous is not None and (previous.t, previous.destination) == (entry.t, entry.destination)
    if same and previous:
        return DatasetState.of(entry, previous.copy_status, previous.reason)
    return DatasetState.of(entry)
