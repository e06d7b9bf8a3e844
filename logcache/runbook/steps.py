"""The runbook's steps over a campaign: the one place that turns library results into
campaign state. The CLI, the headless driver and the app all call these functions.

Each step checks everything it can refuse before it touches the state (a refused command
writes nothing), marks itself running, does its work through the library, records what
it found (datasets, failed paths, the patch, the aggregate) and marks itself done or
failed. A step returns its result; when its goal is not reached it raises `StepFailed`
carrying the partial result, and when cancelled `StepInterrupted`, also with the result
so far. Progress goes to an `EventSink` as typed events (logcache/runbook/events.py).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Generic, TypeVar

from logcache.campaign import Campaign
from logcache.catalog import Transaction, open_catalog, pick_transaction
from logcache.copy import connections_needed, copy_entries
from logcache.copy.events import CopyReport, DatasetFailed, DatasetStatus, DatasetVerified
from logcache.discover.footers import Discovery, discover
from logcache.discover.import_csv import read_entries_csv
from logcache.entries import CSV_NAME, CacheEntry, owner_of, read_entries, select_entries, write_entries
from logcache.errors import LogcacheError, UsageError, describe, missing_path_url
from logcache.hooks.image import build_image
from logcache.hooks.pr import open_pr
from logcache.hooks.template import uses
from logcache.registry import RegistryPatch, apply_patch, default_patch_path, export_patch, plan_registry
from logcache.runbook.events import EventSink, FailedPathFound, HookOutput, ParcelUpdate, RunbookEvent, StepEnded, StepStarted, ignore
from logcache.stores import open_destination, open_logs, open_results, open_source
from logcache.validation import KIND_OF, has_result, read_results
from logcache.validation.aggregate import Aggregate, aggregate
from logcache.validation.backends import BACKENDS, Job, check_command_template, validate_dask_scheduler
from logcache.validation.detail import PairDetail
from logcache.validation.detail import pair_detail as detail_of
from logcache.validation.heartbeat import read_heartbeats
from logcache.validation.jobs import MachineUsage, default_book, held_machines
from logcache.validation.orchestrate import ValidationRun, beat_status, jobs_for, plan_parcels, validate
from logcache.validation.plan import parcel_of
from state.config import CampaignConfig
from state.model import CopyStatus, DatasetState, FailedPathOrigin, ParcelState, ParcelStatus, Resolution, StepName, StepStatus

T = TypeVar("T")


class StepFailed(LogcacheError, Generic[T]):
    """A step ran but did not reach its goal (datasets not copied, parcels failed, rows
    invalid). The message is the step's note; `result` is what the step did get done."""

    exit_code = 1  # findings, not a refusal

    def __init__(self, note: str, result: T | None = None) -> None:
        super().__init__(note)
        self.result = result


class StepInterrupted(KeyboardInterrupt, Generic[T]):
    """A step stopped by its cancel event; `result` is what it had done by then. The step
    is left pending, to resume."""

    def __init__(self, result: T | None = None) -> None:
        super().__init__("interrupted")
        self.result = result


@dataclass(frozen=True)
class Done(Generic[T]):
    """What a step's work hands back when its goal is reached: its result, and the note
    the checklist shows."""

    result: T
    note: str


def _run(campaign: Campaign, name: StepName, work: Callable[[], Done[T]], on_event: EventSink = ignore) -> T:
    """Run `work` as step `name`: running -> done with its note; failed with the note of
    `StepFailed` or of an error; pending again when interrupted."""
    state = campaign.state
    state.start_step(name)
    campaign.save()
    on_event(StepStarted(name))

    def end(status: StepStatus, note: str) -> None:
        state.finish_step(name, status, note=note)
        campaign.save()
        on_event(StepEnded(name, status, note))

    try:
        done = work()
    except LogcacheError as exc:
        end(StepStatus.FAILED, exc.one_line())
        raise
    except KeyboardInterrupt:
        end(StepStatus.PENDING, "interrupted; run it again to resume")
        raise
    except Exception as exc:
        # A bug still ends the step: never left "running" for the next session to trust.
        end(StepStatus.FAILED, f"internal error: {describe(exc)}")
        raise
    end(StepStatus.DONE, done.note)
    return done.result


def _run_as(campaign: Campaign, step: StepName | None, partial: bool, work: Callable[[], Done[T]], on_event: EventSink = ignore) -> T:
    """Run `work` as `step`, except a partial run (`--only`, `--filter-by-name`) before the
    whole step is done, or no step at all: those leave the checklist as it was."""
    if step is None or (partial and campaign.state.step(step).status is not StepStatus.DONE):
        return work().result
    return _run(campaign, step, work, on_event)


def _record_failed_path(campaign: Campaign, url: str, origin: FailedPathOrigin, dataset_name: str, on_event: EventSink) -> None:
    if campaign.state.add_failed_path(url, origin, dataset_name):
        on_event(FailedPathFound(url, origin, dataset_name))


def check_locations(campaign: Campaign) -> None:
    """Open every location the campaign names (nothing is listed or read), so that a
    malformed URL refuses a whole run before its first step changes the state."""
    config = campaign.config
    open_catalog(config)
    for opened in (open_source, open_destination, open_logs, open_results):
        opened(config)


# --- step 1: pick the nightly run ------------------------------------------------------


def transactions(campaign: Campaign) -> list[Transaction]:
    return open_catalog(campaign.config).transactions()


def default_transaction(runs: list[Transaction]) -> Transaction | None:
    """What step 1 picks when told nothing: the latest succeeded run (None if none did)."""
    return pick_transaction(runs) if any(t.status == "succeeded" for t in runs) else None


def pick(campaign: Campaign, transaction_id: str | None = None, on_event: EventSink = ignore) -> Transaction:
    """Runbook step 1: choose the nightly run (default: the latest succeeded one). An
    unknown id is refused before the checklist changes."""
    tx = pick_transaction(transactions(campaign), transaction_id)

    def work() -> Done[Transaction]:
        if campaign.state.transaction_id not in (None, tx.id):
            campaign.state.reset_from(StepName.DISCOVER)
            campaign.state.datasets = []
            forget_hook_outputs(campaign)
        campaign.state.transaction_id = tx.id
        return Done(tx, f"{tx.id} ({tx.status}, finished {tx.finished_at})")

    return _run(campaign, StepName.PICK_TRANSACTION, work, on_event)


def forget_hook_outputs(campaign: Campaign) -> None:
    """Another refresh's branch, PR and image are not this one's: the steps that made them
    run again."""
    state = campaign.state
    state.registry_branch = state.pr_url = state.image_tag = None


def chosen_transaction(campaign: Campaign, on_event: EventSink = ignore) -> Transaction:
    if campaign.state.transaction_id is None:
        return pick(campaign, on_event=on_event)
    return pick_transaction(transactions(campaign), campaign.state.transaction_id)


# --- step 2: discover (or import) the cache entries ------------------------------------


def entries_path(campaign: Campaign) -> Path:
    return campaign.config.work_dir / CSV_NAME


def entries(campaign: Campaign) -> list[CacheEntry]:
    return read_entries(entries_path(campaign))


def run_discover(campaign: Campaign, on_event: EventSink = ignore) -> Discovery:
    """Runbook step 2: T, objects and paths per dataset -> cache-entries.csv and the state."""
    tx = chosen_transaction(campaign, on_event)
    config = campaign.config
    source, destination = open_source(config), open_destination(config)

    def work() -> Done[Discovery]:
        result = discover(tx, source, destination, config.copy.concurrency, on_event)
        write_entries(entries_path(campaign), result.entries)
        previous = {d.name: d for d in campaign.state.datasets}
        campaign.state.datasets = [dataset_state(e, previous.get(e.name)) for e in result.entries]
        for finding in result.findings:
            url = missing_path_url(finding.message)
            if finding.kind == "missing-path" and url is not None:
                _record_failed_path(campaign, url, FailedPathOrigin.DISCOVER, finding.name, on_event)
        return Done(result, f"{len(result.entries)} datasets, {len(result.findings)} findings")

    return _run(campaign, StepName.DISCOVER, work, on_event)


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
    for name in (StepName.PICK_TRANSACTION, StepName.DISCOVER):
        state.finish_step(name, StepStatus.SKIPPED, note=f"imported {len(imported)} entries from {csv}")
    campaign.save()
    return imported


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


# --- step 3: copy ----------------------------------------------------------------------


def run_copy(
    campaign: Campaign,
    only: list[str] | None = None,
    on_event: EventSink = ignore,
    cancel: threading.Event | None = None,
    concurrency: int | None = None,
    overwrite: bool | None = None,
    step: StepName | None = StepName.COPY,
) -> CopyReport:
    """Runbook step 3 (and the re-copy of failed paths): copy, verify, record per dataset.
    Unknown `only` names, a bad concurrency and stores that cannot be opened are refused
    before the state changes."""
    config = campaign.config
    conc = config.copy.concurrency if concurrency is None else concurrency
    if conc < 1:
        raise UsageError(f"--concurrency must be at least 1, not {conc}")
    cached = entries(campaign)
    select_entries(cached, only)
    source = open_source(config, connections_needed(conc))
    destination = open_destination(config, connections_needed(conc))

    def record(event: RunbookEvent) -> None:
        if isinstance(event, DatasetVerified | DatasetFailed):
            ds = campaign.state.dataset(event.name)
            verified = isinstance(event, DatasetVerified)
            if ds is not None:
                ds.copy_status = CopyStatus.VERIFIED if verified else CopyStatus.FAILED
                ds.reason = "" if verified else event.reason
            if isinstance(event, DatasetFailed):
                _record_failed_path(campaign, event.url, FailedPathOrigin.COPY, event.name, on_event)
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
            overwrite=config.copy.overwrite if overwrite is None else overwrite,
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

    return _run_as(campaign, step, only is not None, work, on_event)


def plan_copy(
    campaign: Campaign, only: list[str] | None = None, on_event: EventSink = ignore, concurrency: int | None = None, overwrite: bool | None = None
) -> CopyReport:
    """A dry run of step 3: list and compare, write nothing (a read-only campaign will do,
    so it works while another operator drives the campaign)."""
    config = campaign.config
    conc = config.copy.concurrency if concurrency is None else concurrency
    pool = connections_needed(conc)
    return copy_entries(
        entries(campaign),
        open_source(config, pool),
        open_destination(config, pool),
        only=only,
        concurrency=conc,
        overwrite=config.copy.overwrite if overwrite is None else overwrite,
        dry_run=True,
        on_event=on_event,
    )


# --- step 4: the registry PR -----------------------------------------------------------


def registry_patch(campaign: Campaign) -> RegistryPatch:
    """The registry update for every discovered entry (what `registry diff` shows)."""
    return plan_registry(campaign.config, entries(campaign))


def verified_entries(campaign: Campaign) -> list[CacheEntry]:
    """The entries whose copy is verified at the destination: the only ones the registry
    may point at."""
    verified = {d.name for d in campaign.state.datasets if d.copy_status is CopyStatus.VERIFIED}
    return [e for e in entries(campaign) if e.name in verified]


def hook_lines(hook: str, on_event: EventSink) -> Callable[[str], None]:
    """A hook's output lines as `HookOutput` events."""
    return lambda line: on_event(HookOutput(hook, line))


def run_registry_export(
    campaign: Campaign, out: Path | None = None, on_event: EventSink = ignore, cancel: threading.Event | None = None
) -> Path:
    """Runbook step 4: write the registry patch that becomes the PR, for the verified
    copies only; a dataset not verified at the destination is never put in the registry.
    With `[registry] pr_command`, the patch is then applied on its branch and the PR hook
    opens the PR; a rerun after the hook failed reuses the branch and retries the hook."""
    cached, ready = entries(campaign), verified_entries(campaign)
    if not ready:
        raise UsageError("no dataset is verified at the destination yet; run the copy first (logcache copy CAMPAIGN)")
    state = campaign.state
    # Once applied for the PR, the registry holds the patch: a rerun keeps the exported
    # file and the branch, and only retries the PR hook.
    applied = state.registry_branch is not None
    patch = plan_registry(campaign.config, ready)
    target = out or default_patch_path(campaign.config, date.today())
    pr_command = campaign.config.pr.command
    if pr_command and not applied and patch.repo is None and uses(pr_command, "branch"):
        raise UsageError(
            f"[registry] pr_command uses {{branch}}, but the registry {patch.path} is not in a git work tree, so no branch is made;"
            " set [registry] path to the registry in its repository's checkout, or drop {branch}"
        )

    def work() -> Done[Path]:
        path = Path(state.patch_path) if applied and state.patch_path else export_patch(patch, target)
        state.patch_path = str(path)
        left = len(cached) - len(ready)
        if left:
            raise StepFailed(f"{left} datasets are not verified at the destination and were left out of {path}; copy them, then export again", path)
        note = f"{patch.update.summary()} -> {path}" if not applied else f"{path}"
        if campaign.config.pr.command:
            if not applied:
                result = apply_patch(patch, date.today())
                state.registry_branch = result.branch or ""
                campaign.save()  # the branch exists now, whatever the hook does
            pr = open_pr(campaign.config, patch=path, branch=state.registry_branch or "", on_line=hook_lines("pr", on_event), cancel=cancel)
            assert pr is not None
            state.pr_url = pr.url
            note += f"; PR {pr.url}"
        return Done(path, note)

    return _run(campaign, StepName.REGISTRY_EXPORT, work, on_event)


# --- the image with the patch ----------------------------------------------------------


def run_build_image(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> str:
    """The build-image step when `[image] command` is set: the hook builds and pushes the
    image holding the registry patch; its tag is the step's note and the `{image}` of the
    validation jobs. A failure leaves the step failed and the next run retries it."""
    state = campaign.state
    if not state.patch_path:
        raise UsageError("there is no registry patch to build the image with yet; run the registry export first (logcache run CAMPAIGN)")
    patch = Path(state.patch_path)
    command = campaign.config.image.command
    if command and uses(command, "branch") and not state.registry_branch:
        raise UsageError(
            "[image] command uses {branch}, but the registry patch is on no branch: the refresh makes one only for"
            " [registry] pr_command, with the registry in a git work tree; set that up, or drop {branch}"
        )

    def work() -> Done[str]:
        built = build_image(campaign.config, patch=patch, branch=state.registry_branch or "", on_line=hook_lines("image", on_event), cancel=cancel)
        assert built is not None  # the step runs through its hook only when one is configured
        state.image_tag = built.tag
        return Done(built.tag, built.tag)

    return _run(campaign, StepName.BUILD_IMAGE, work, on_event)


def image_tag(campaign: Campaign) -> str:
    """The tag for `{image}`: the hook's, or the note of a build-image confirmed by hand."""
    state = campaign.state
    step = state.step(StepName.BUILD_IMAGE)
    return state.image_tag or (step.note if step.status is StepStatus.DONE else "")


def apply_registry(campaign: Campaign) -> str:
    """Apply the patch to the registry's work tree on a new branch (where it is in git)."""
    result = apply_patch(plan_registry(campaign.config, verified_entries(campaign)), date.today())
    return f"branch {result.branch}, commit {result.commit}" if result.branch else f"edited {result.path}"


# --- step 5: validate in parcels -------------------------------------------------------


def run_validate(
    campaign: Campaign,
    *,
    names: list[str] | None = None,
    force: bool = False,
    count: int | None = None,
    balance: str | None = None,
    backend: str | None = None,
    prefix: str = "",
    on_event: EventSink = ignore,
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
    parcels = plan_parcels(cached, count, balance, names)
    check_backend(config, backend, jobs_for(config, parcels, balance, names, prefix), force)
    read_results(open_results(config))
    if not names:
        campaign.state.parcels = [p for p in campaign.state.parcels if not p.parcel_id.startswith(prefix)] if prefix else []

    def record(update: RunbookEvent) -> None:
        if isinstance(update, ParcelUpdate):
            record_parcel(campaign, update)
        on_event(update)

    def work() -> Done[ValidationRun]:
        run = validate(
            config, cached, count=count, balance=balance, backend=backend, names=names, force=force, prefix=prefix, on_event=record, cancel=cancel,
            image=image_tag(campaign), on_line=hook_lines("validate", on_event),
        )
        for found in run.failed_paths:
            _record_failed_path(campaign, found.url, FailedPathOrigin(found.origin), found.dataset_name, on_event)
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

    return _run_as(campaign, step, bool(names), work, on_event)


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
    on_event: EventSink = ignore,
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


def check_backend(config: CampaignConfig, backend: str, jobs: list[Job], force: bool) -> None:
    """Refuse a backend that cannot run `jobs` before anything starts."""
    if backend == "dask":
        validate_dask_scheduler(config.validation.scheduler)
    elif backend == "command":
        check_command_template(config, jobs, force)
    elif backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")


# --- re-copy the failed paths ----------------------------------------------------------


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


def run_recopy_failed(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> str:
    """Re-copy every failed path's dataset (with one automatic retry), then re-validate
    just those datasets; what is still broken stays open with its reason."""
    names = failed_datasets(campaign)

    def copy(only: list[str]) -> CopyReport:
        # A dataset that still fails is a result here, not the end: it stays open below.
        try:
            return run_copy(campaign, only=only, on_event=on_event, cancel=cancel, step=None)
        except StepFailed as failed:
            report: CopyReport = failed.result
            return report

    def work() -> Done[str]:
        if not names:
            return Done("no failed paths", "no failed paths")
        report = copy(names)
        retry = [d.name for d in report.with_status(DatasetStatus.FAILED)]
        if retry:
            copy(retry)
        copied = [n for n in names if (ds := campaign.state.dataset(n)) is not None and ds.copy_status is CopyStatus.VERIFIED]
        pairs = pairs_of(campaign, copied)
        if pairs:
            count = min(campaign.config.validation.parcel_count, len(pairs))
            try:
                run = run_validate(campaign, names=pairs, force=True, count=count, prefix="recopy-", on_event=on_event, cancel=cancel, step=None)
            except StepFailed as failed:
                run = failed.result
            valid = {f"{r.dataset}/{KIND_OF[r.validation]}" for r in run.rows if r.is_valid}
            for fp in campaign.state.failed_paths:
                if fp.resolution is Resolution.RECOPIED and fp.dataset_name in valid:
                    fp.resolution = Resolution.REVALIDATED
            campaign.mark()
        still = [fp.url for fp in campaign.state.open_failed_paths()]
        note = f"re-copied and re-validated {len(copied)} datasets"
        if still:
            raise StepFailed(f"{len(still)} failed paths remain after a re-copy and a retry (e.g. {still[0]}); check the source, then run again", note)
        return Done(note, note)

    return _run(campaign, StepName.RECOPY_FAILED, work, on_event)


# --- step 6: aggregate -----------------------------------------------------------------


def run_aggregate(campaign: Campaign, on_event: EventSink = ignore) -> Aggregate:
    """Runbook step 6: `cache-validations.parquet` and its summary; the step is done only
    when every row is valid."""

    def work() -> Done[Aggregate]:
        result = aggregate(entries(campaign), open_results(campaign.config), campaign.config.work_dir)
        campaign.state.aggregate = result.summary
        s = result.summary
        if not s.all_valid:
            kinds = ", ".join(f"{k.kind}: {k.count}" for k in s.by_error_kind)
            raise StepFailed(f"{s.invalid} of {s.rows} rows invalid, {s.not_checked} not checked ({kinds}); see `logcache failures`", result)
        return Done(result, f"all {s.rows} rows valid -> {s.path}")

    return _run(campaign, StepName.AGGREGATE, work, on_event)


def pair_detail(campaign: Campaign, pair: str) -> PairDetail:
    """One `<dataset>/<validation>` result in full, as `logcache show` and the app's detail
    screen give it."""
    return detail_of(campaign.config, entries(campaign), pair)


def machine_usage(campaign: Campaign) -> MachineUsage | None:
    """The machines parcels hold and the machine-hours so far, or None where no
    asynchronous submitter scales machines (the Validators pane and `status` show it)."""
    config = campaign.config
    if not config.submitter.submit:
        return None
    return held_machines(config, default_book(config).load())
