"""The runbook's steps over a campaign: the one place that turns library results into
campaign state. The CLI, the headless driver and the TUI all call these functions.

Each step marks itself running, does its work through the library, records what it found
(datasets, failed paths, the patch, the aggregate) and marks itself done or failed. Long
steps report progress through a plain callback and stop early when `cancel` is set.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from logcache.validation.aggregate import Aggregate, aggregate
from logcache.validation.backends import BACKENDS, validate_dask_scheduler
from logcache.campaign import Campaign
from logcache.catalog import Transaction, open_catalog, pick_transaction
from logcache.copy import connections_needed, copy_entries
from logcache.copy.events import CopyEvent, CopyReport, DatasetFailed, DatasetStatus, DatasetVerified
from logcache.discover.footers import DiscoverProgress, Discovery, discover
from logcache.entries import CSV_NAME, CacheEntry, owner_of, read_entries, write_entries
from logcache.errors import LogcacheError, UsageError
from logcache.validation.heartbeat import read_heartbeats
from logcache.validation.plan import parcel_of
from logcache.registry import RegistryPatch, apply_patch, default_patch_path, export_patch, plan_registry
from logcache.stores import open_destination, open_results, open_source
from logcache.validation.orchestrate import ParcelUpdate, ValidationRun, beat_status, plan_parcels, validate
from logcache.validation import KIND_OF, has_result, read_results
from state.config import CampaignConfig
from state.errors import StateError
from state.model import MANUAL_STEPS, CopyStatus, DatasetState, ParcelState, ParcelStatus, Resolution, StepName, StepStatus

T = TypeVar("T")


class StepFailed(LogcacheError):
    """A step ran but did not reach its goal; the message says why and what to do."""

    def one_line(self) -> str:
        return str(self)  # it is the step's note, and names no error class worth showing


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


def _run_as(campaign: Campaign, step: StepName | None, partial: bool, work: Callable[[], str]) -> None:
    """Run `work` as `step`, except a partial run (`--only`, `--filter-by-name`) before the
    whole step is done, or no step at all: those leave the checklist as it was."""
    if step is None or (partial and campaign.state.step(step).status is not StepStatus.DONE):
        work()
    else:
        _run(campaign, step, work)


def _run_keeping(campaign: Campaign, step: StepName | None, partial: bool, work: Callable[[], str], kept: list[T]) -> T:
    """`_run_as`, for steps whose work keeps its result in `kept` before it may fail (some
    datasets not copied, some rows invalid): the result is returned all the same, and the
    failure is in the step's status."""
    try:
        _run_as(campaign, step, partial, work)
    except StepFailed:
        if not kept:
            raise
    return kept[0]


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
    step: StepName | None = StepName.COPY,
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
                    if fp.dataset_name == event.name:
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

    try:
        return _run_keeping(campaign, step, only is not None, work, reports)
    except KeyboardInterrupt:
        if reports and cancel is not None and cancel.is_set():
            return reports[0]
        raise


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


def run_validate(
    campaign: Campaign,
    *,
    names: list[str] | None = None,
    force: bool = False,
    count: int | None = None,
    balance: str | None = None,
    backend: str | None = None,
    prefix: str = "",
    on_event: Callable[[ParcelUpdate], None] | None = None,
    cancel: threading.Event | None = None,
    step: StepName | None = StepName.VALIDATE,
) -> ValidationRun:
    """Runbook step 5: validate every entry (or `names`) in parcels on the backend,
    recording parcels and failed paths as they are found."""
    config = campaign.config
    settings = config.validation
    count = settings.parcel_count if count is None else count
    balance = balance or settings.balance
    backend = backend or settings.backend
    cached = entries(campaign)
    # Everything that can be refused is checked before the state changes.
    plan_parcels(cached, count, balance, names)
    check_backend(config, backend)
    read_results(open_results(config))
    runs: list[ValidationRun] = []
    if not names:
        campaign.state.parcels = [p for p in campaign.state.parcels if not p.parcel_id.startswith(prefix)] if prefix else []

    def record(update: ParcelUpdate) -> None:
        record_parcel(campaign, update)
        if on_event:
            on_event(update)

    def work() -> str:
        run = validate(
            config, cached, count=count, balance=balance, backend=backend, names=names, force=force, prefix=prefix, on_event=record, cancel=cancel
        )
        runs.append(run)
        for found in run.failed_paths:
            campaign.state.add_failed_path(found.url, found.origin, found.dataset_name)
        failed_jobs = [j for j in run.jobs if not j.ok]
        if failed_jobs:
            raise StepFailed(f"{len(failed_jobs)} parcels failed (parcel {failed_jobs[0].label}: {failed_jobs[0].error}); run validate again to finish them")
        kinds = Counter(r.error_kind for r in run.invalid)
        detail = f" ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))})" if kinds else ""
        return f"{run.pairs} checked: {run.pairs - len(run.invalid)} valid, {len(run.invalid)} invalid{detail}"

    return _run_keeping(campaign, step, bool(names), work, runs)


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
    updates = [
        ParcelUpdate.of(p.parcel_id, p.backend, p.job_id, beat_status(beat, stale_s), beat, beat.total, beat.bytes_total)
        for p in campaign.state.parcels
        if p.status not in (ParcelStatus.DONE, ParcelStatus.FAILED) and (beat := beats.get(p.parcel_id)) is not None
    ]
    for update in updates:
        record_parcel(campaign, update)
    return updates


def split_stuck(
    campaign: Campaign,
    label: str,
    parts: int = 2,
    on_event: Callable[[ParcelUpdate], None] | None = None,
    cancel: threading.Event | None = None,
) -> ValidationRun:
    """The seed's manual `--filter-by-name` split, done for the operator: what a stuck
    parcel of the main validation has not finished runs again as `parts` new parcels."""
    if not label.isdigit():
        raise UsageError(f"parcel {label} is not one of the main validation's parcels; only those can be split")
    settings = campaign.config.validation
    parcel = parcel_of(plan_parcels(entries(campaign), settings.parcel_count, settings.balance), int(label))
    results = open_results(campaign.config)
    remaining = sorted({t.name for t in parcel.tasks if not has_result(results, t.dataset, t.validation)})
    if not remaining:
        raise UsageError(f"parcel {label} has nothing left to do")
    round_ = 1 + sum(p.parcel_id.startswith(f"{label}-split") for p in campaign.state.parcels)
    return run_validate(
        campaign, names=remaining, count=min(parts, len(remaining)), prefix=f"{label}-split{round_}-", on_event=on_event, cancel=cancel, step=None
    )


def check_backend(config: CampaignConfig, backend: str) -> None:
    """Refuse a backend that cannot run before anything starts."""
    if backend == "dask":
        validate_dask_scheduler(config.validation.scheduler)
    elif backend == "command" and not config.validation.template:
        raise UsageError("the command backend needs a job template: --template '... {parcel_id} ...' or [validation] template")
    elif backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


def pairs_of(campaign: Campaign, dataset_names: list[str]) -> list[str]:
    """`<dataset>/<validation>` of the named datasets (`<shard>/<kind>`)."""
    wanted = set(dataset_names)
    return [e.pair for e in entries(campaign) if e.name in wanted]


def failed_datasets(campaign: Campaign) -> list[str]:
    """The datasets of failed paths not yet re-validated, in the order they were found."""
    cached = entries(campaign)
    names = [
        fp.dataset_name or owner_of(cached, fp.url)
        for fp in campaign.state.failed_paths
        if fp.resolution in (Resolution.OPEN, Resolution.RECOPIED)
    ]
    return list(dict.fromkeys(n for n in names if n))


def run_recopy_failed(
    campaign: Campaign,
    on_event: Callable[[Any], None] | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """Re-copy every failed path's dataset (with one automatic retry), then re-validate
    just those datasets; what is still broken stays open with its reason."""
    names = failed_datasets(campaign)

    def work() -> str:
        if not names:
            return "no failed paths"
        report = run_copy(campaign, only=names, on_event=on_event, cancel=cancel, step=None)
        retry = [d.name for d in report.with_status(DatasetStatus.FAILED)]
        if retry:
            report = run_copy(campaign, only=retry, on_event=on_event, cancel=cancel, step=None)
        copied = [n for n in names if (ds := campaign.state.dataset(n)) is not None and ds.copy_status is CopyStatus.VERIFIED]
        pairs = pairs_of(campaign, copied)
        if pairs:
            run = run_validate(
                campaign,
                names=pairs,
                force=True,
                count=min(campaign.config.validation.parcel_count, len(pairs)),
                prefix="recopy-",
                on_event=on_event,
                cancel=cancel,
                step=None,
            )
            valid = {f"{r.dataset}/{KIND_OF[r.validation]}" for r in run.rows if r.is_valid}
            for fp in campaign.state.failed_paths:
                if fp.resolution is Resolution.RECOPIED and fp.dataset_name in valid:
                    fp.resolution = Resolution.REVALIDATED
            campaign.mark()
        still = [fp.url for fp in campaign.state.open_failed_paths()]
        if still:
            raise StepFailed(f"{len(still)} failed paths remain after a re-copy and a retry (e.g. {still[0]}); check the source, then run again")
        return f"re-copied and re-validated {len(copied)} datasets"

    return _run(campaign, StepName.RECOPY_FAILED, work)


def run_aggregate(campaign: Campaign) -> Aggregate:
    """Runbook step 6: `cache-validations.parquet` and its summary; the step is done only
    when every row is valid."""
    found: list[Aggregate] = []

    def work() -> str:
        result = aggregate(entries(campaign), open_results(campaign.config), campaign.config.work_dir)
        campaign.state.aggregate = result.summary
        found.append(result)
        s = result.summary
        if not s.all_valid:
            kinds = ", ".join(f"{k.kind}: {k.count}" for k in s.by_error_kind)
            raise StepFailed(f"{s.invalid} of {s.rows} rows invalid ({kinds}); see `logcache failures`")
        return f"all {s.rows} rows valid -> {s.path}"

    return _run_keeping(campaign, StepName.AGGREGATE, False, work, found)
