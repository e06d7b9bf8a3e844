"""Runbook step 5: validate every entry (or some pairs) in parcels on a backend, recording
parcels and failed paths as they are found; following parcels that run elsewhere; and the
split of a stuck parcel."""

from __future__ import annotations

import threading
from collections import Counter

from logcache.campaign import Campaign
from logcache.errors import UsageError
from logcache.runbook.checks import check_backend
from logcache.runbook.events import EventSink, ParcelUpdate, RunbookEvent, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, StepFailed, hook_lines, record_failed_path, run_as
from logcache.runbook.queries import entries, image_tag
from logcache.stores import open_results
from logcache.validation import has_result, read_results
from logcache.validation.heartbeat import read_heartbeats
from logcache.validation.orchestrate import ValidationRun, beat_status, cut_for, jobs_for, plan_parcels, planned_pairs, validate
from logcache.validation.plan import parcel_of
from state.model import FailedPathOrigin, ParcelState, ParcelStatus, StepName


def run(
    campaign: Campaign,
    on_event: EventSink = ignore,
    cancel: threading.Event | None = None,
    *,
    names: list[str] | None = None,
    force: bool = False,
    count: int | None = None,
    balance: str | None = None,
    backend: str | None = None,
    prefix: str = "",
    step: StepName | None = StepName.VALIDATE,
    cut: dict[str, int] | None = None,
) -> ValidationRun:
    """`cut`: entities checks planned in partitions (`--entity-partitions`); by default,
    with the command backend, those that would not fit one job's memory budget."""
    on_event = journaled(campaign, on_event)
    config = campaign.config
    settings = config.validation
    count = settings.parcel_count if count is None else count
    balance = balance or settings.balance
    backend = backend or settings.backend
    cached = entries(campaign)
    cut = cut_for(config, backend, cached, names, cut)
    # Everything that can be refused is checked before the state changes.
    parcels = plan_parcels(cached, count, balance, names, cut)
    check_backend(config, backend, jobs_for(config, parcels, balance, names, prefix, cut), force)
    # The results the run will report must be readable (the others are not its business).
    read_results(open_results(config), pairs=planned_pairs(parcels) if names else None)
    if not names:
        campaign.state.parcels = [p for p in campaign.state.parcels if not p.parcel_id.startswith(prefix)] if prefix else []

    def record(update: RunbookEvent) -> None:
        if isinstance(update, ParcelUpdate):
            record_parcel(campaign, update)
        on_event(update)

    def work() -> Done[ValidationRun]:
        run = validate(
            config, cached, count=count, balance=balance, backend=backend, names=names, force=force, prefix=prefix, on_event=record, cancel=cancel,
            image=image_tag(campaign), on_line=hook_lines("validate", on_event), cut=cut,
        )
        for found in run.failed_paths:
            record_failed_path(campaign, found.url, FailedPathOrigin(found.origin), found.dataset_name, on_event)
        failed_jobs = [j for j in run.jobs if not j.ok]
        if failed_jobs:
            first = failed_jobs[0]
            raise StepFailed(f"{len(failed_jobs)} parcels failed (parcel {first.label}: {first.error}); run validate again to finish them", run)
        kinds = Counter(r.error_kind for r in run.invalid)
        detail = f" ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))})" if kinds else ""
        note = f"{run.pairs} pairs: {run.valid} valid, {len(run.invalid)} invalid{detail}, {run.unchecked} not checked"
        if run.unchecked:
            cause = f" ({run.not_checked[0].dataset}/{run.not_checked[0].validation}: {run.not_checked[0].error})" if run.not_checked else ""
            raise StepFailed(f"{note}{cause}; run validate again to check them", run)
        return Done(run, note)

    return run_as(campaign, step, bool(names), work, on_event)


def record_parcel(campaign: Campaign, update: ParcelUpdate) -> None:
    """What a parcel's update says, into the campaign's parcel ledger."""
    parcel = next((p for p in campaign.state.parcels if p.parcel_id == update.label), None)
    if parcel is None:
        parcel = ParcelState(update.label, update.backend)
        campaign.state.parcels.append(parcel)
    parcel.backend, parcel.job_id = update.backend or parcel.backend, update.job_id or parcel.job_id
    parcel.status = ParcelStatus(update.status)
    parcel.last_heartbeat = update.heartbeat_at or parcel.last_heartbeat
    parcel.tasks_done, parcel.tasks_total = update.done, update.total
    campaign.mark()


def refresh_parcels(campaign: Campaign) -> list[ParcelUpdate]:
    """Bring unfinished parcels up to date from their heartbeats: how a session that did
    not start them (a reopened app, a colleague) follows parcels running elsewhere."""
    beats = read_heartbeats(open_results(campaign.config))
    stale_s = campaign.config.validation.heartbeat_stale_s
    # A driver runs its local and Dask parcels itself: one it did not start died with the
    # session that did, whatever fresh heartbeat that session left. It follows only jobs
    # that outlive their driver; a read-only session follows every parcel of the driver.
    follows = (lambda p: True) if campaign.read_only else campaign.detached
    updates = [
        ParcelUpdate.of(p.parcel_id, p.backend, p.job_id, beat_status(beat, stale_s), beat, beat.total, beat.bytes_total)
        for p in campaign.state.parcels
        if p.status not in (ParcelStatus.DONE, ParcelStatus.FAILED, ParcelStatus.INTERRUPTED)
        and follows(p)
        and (beat := beats.get(p.parcel_id)) is not None
    ]
    for update in updates:
        record_parcel(campaign, update)
    return updates


def split_stuck(
    campaign: Campaign,
    label: str,
    parts: int = 2,
    on_event: EventSink = ignore,
    cancel: threading.Event | None = None,
) -> ValidationRun:
    """The seed's manual `--filter-by-name` split, done for the operator: what a stuck
    parcel of the main validation has not finished runs again as `parts` new parcels."""
    on_event = journaled(campaign, on_event)
    if not label.isdigit():
        raise UsageError(f"parcel {label} is not one of the main validation's parcels; only those can be split")
    settings = campaign.config.validation
    cached = entries(campaign)
    cut = cut_for(campaign.config, settings.backend, cached, None, None)
    parcel = parcel_of(plan_parcels(cached, settings.parcel_count, settings.balance, cut=cut), int(label))
    results = open_results(campaign.config)
    remaining = sorted({t.name for t in parcel.tasks if not has_result(results, t.dataset, t.validation)})
    if not remaining:
        raise UsageError(f"parcel {label} has nothing left to do")
    round_ = 1 + sum(p.parcel_id.startswith(f"{label}-split") for p in campaign.state.parcels)
    return run(campaign, on_event, cancel, names=remaining, count=min(parts, len(remaining)), prefix=f"{label}-split{round_}-", step=None)
