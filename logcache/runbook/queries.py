"""Read-only views of a campaign, the same for every front end: `logcache status`,
`show`, `failures`, `registry diff` and the app's panes all ask here. Nothing in this
module changes the state or writes to a store, so each works on a read-only campaign
(while another operator drives it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from logcache.campaign import Campaign
from logcache.catalog import Transaction, open_catalog, pick_transaction
from logcache.copy import connections_needed, copy_entries
from logcache.copy.events import CopyReport
from logcache.entries import CSV_NAME, CacheEntry, owner_of, read_entries
from logcache.registry import RegistryPatch, default_patch_path, plan_registry
from logcache.runbook.events import EventSink, ignore
from logcache.runbook.next_actions import Action, ActionKind, actions_for, next_actions
from logcache.stores import open_destination, open_results, open_source
from logcache.validation.aggregate import aggregate_rows, pair_dataset
from logcache.validation.detail import PairDetail, render_detail
from logcache.validation.detail import pair_detail as detail_of
from logcache.validation.heartbeat import read_heartbeats
from logcache.validation.jobs import MachineUsage, default_book, held_machines
from logcache.validation.orchestrate import ParcelUpdate
from logcache.validation.result import ResultRow
from state.model import CampaignState, CopyStatus, ParcelStatus, Resolution, StepName, StepStatus

# What the front ends may use; MachineUsage and ResultRow are the rows some views return,
# re-exported so the app needs nothing below the runbook.
__all__ = [
    "MachineUsage",
    "ResultRow",
    "actions",
    "apply_risks",
    "current_results",
    "default_transaction",
    "detail_lines",
    "entries",
    "entries_path",
    "exclusions",
    "failed_datasets",
    "finished_parcels",
    "image_tag",
    "machine_usage",
    "pair_detail",
    "pairs_of",
    "patch_path",
    "plan_copy",
    "recopy_candidates",
    "registry_patch",
    "transactions",
    "verified_entries",
]


def transactions(campaign: Campaign) -> list[Transaction]:
    return open_catalog(campaign.config).transactions()


def default_transaction(runs: list[Transaction]) -> Transaction | None:
    """What step 1 picks when told nothing: the latest succeeded run (None if none did)."""
    return pick_transaction(runs) if any(t.status == "succeeded" for t in runs) else None


def entries_path(campaign: Campaign) -> Path:
    return campaign.config.work_dir / CSV_NAME


def entries(campaign: Campaign) -> list[CacheEntry]:
    return read_entries(entries_path(campaign))


def registry_patch(campaign: Campaign) -> RegistryPatch:
    """The registry update for every discovered entry but the excluded ones (what
    `registry diff` shows)."""
    return plan_registry(campaign.config, entries(campaign), exclusions(campaign.state))


def exclusions(state: CampaignState) -> dict[str, str]:
    """The datasets left out of the patch, with their reasons."""
    return {x.name: x.reason for x in state.exclusions}


def verified_entries(campaign: Campaign) -> list[CacheEntry]:
    """The entries whose copy is verified at the destination and that are not excluded:
    the only ones the registry may point at."""
    excluded = campaign.state.excluded()
    verified = {d.name for d in campaign.state.datasets if d.copy_status is CopyStatus.VERIFIED and d.name not in excluded}
    return [e for e in entries(campaign) if e.name in verified]


def apply_risks(campaign: Campaign) -> list[str]:
    """What applying the registry patch now would put in the registry unchecked: pairs
    invalid or not yet validated, datasets not verified at the destination; excluded
    datasets are accounted for. Empty when applying is safe; the CLI refuses `--apply`
    without `--yes` otherwise, and the app shows them before it asks."""
    excluded = campaign.state.excluded()
    rows = [r for r in current_results(campaign) if pair_dataset(r) not in excluded]
    not_run = sum(not r.checked for r in rows)
    invalid = sum(not r.is_valid for r in rows) - not_run
    cached = [e for e in entries(campaign) if e.name not in excluded]
    unverified = len(cached) - len(verified_entries(campaign))
    counted = ((invalid, "rows invalid"), (not_run, "pairs not yet validated or not checked"), (unverified, "datasets not verified at the destination"))
    return [f"{n} {what}" for n, what in counted if n]


def actions(campaign: Campaign, campaign_arg: str) -> list[Action]:
    """What to do next about every finding (see `runbook.next_actions`)."""
    return actions_for(campaign.config, campaign.state, campaign_arg)


def findings(campaign: Campaign, campaign_arg: str) -> tuple[list[ResultRow], list[Action]]:
    """Every pair's current row (none before validation has begun) and the next actions
    they and the open failed paths call for, read once: what the app's Results and
    Failed panes and its header show."""
    if not entries_path(campaign).exists():
        return [], []
    cached = entries(campaign)
    rows = aggregate_rows(cached, open_results(campaign.config)) if campaign.state.parcels else []
    return rows, next_actions(campaign.config, campaign.state, cached, rows, campaign_arg)


def recopy_candidates(campaign: Campaign) -> list[str]:
    """The datasets whose copy a re-copy can fix: the failed paths' (not at the source),
    and those with a row invalid in a way a fresh copy changes, not re-copied yet."""
    todo = next_actions(campaign.config, campaign.state, entries(campaign), current_results(campaign), "CAMPAIGN")
    fixable = [n for a in todo if a.kind is ActionKind.RECOPY for n in a.names]
    return list(dict.fromkeys([*(n for n in failed_datasets(campaign) if n in fixable), *fixable]))


def image_tag(campaign: Campaign) -> str:
    """The tag for `{image}`: the hook's, or the note of a build-image confirmed by hand."""
    state = campaign.state
    step = state.step(StepName.BUILD_IMAGE)
    return state.image_tag or (step.note if step.status is StepStatus.DONE else "")


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


def current_results(campaign: Campaign) -> list[ResultRow]:
    """The row every pair has now: its latest result for the entry's T, or a `not-run`
    row. What `aggregate` will write, what `failures` lists, what the app's Results pane
    shows."""
    return aggregate_rows(entries(campaign), open_results(campaign.config))


def pair_detail(campaign: Campaign, pair: str) -> PairDetail:
    """One `<dataset>/<validation>` result in full, as `logcache show` and the app's detail
    screen give it."""
    return detail_of(campaign.config, entries(campaign), pair)


def detail_lines(campaign: Campaign, pair: str) -> list[str]:
    """`pair_detail` as the lines `logcache show` prints."""
    return render_detail(pair_detail(campaign, pair))


def patch_path(campaign: Campaign) -> Path:
    """Where today's registry patch is exported unless the operator says otherwise."""
    return default_patch_path(campaign.config, date.today())


def machine_usage(campaign: Campaign) -> MachineUsage | None:
    """The machines parcels hold and the machine-hours so far, or None where no
    asynchronous submitter scales machines (the Validators pane and `status` show it)."""
    config = campaign.config
    if not config.submitter.submit:
        return None
    return held_machines(config, default_book(config).load())


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


def finished_parcels(campaign: Campaign) -> list[ParcelUpdate]:
    """The parcels that ended (done or failed) as their last heartbeat tells them (bytes,
    tasks, the beat's time), with the status the state records: what a reopened app shows
    of validation that ran before. Unfinished parcels are followed by `refresh_parcels`."""
    ended = [p for p in campaign.state.parcels if p.status in (ParcelStatus.DONE, ParcelStatus.FAILED)]
    if not ended:
        return []
    beats = read_heartbeats(open_results(campaign.config))
    return [
        ParcelUpdate.of(p.parcel_id, p.backend, p.job_id, p.status, beat, beat.total, beat.bytes_total)
        for p in ended
        if (beat := beats.get(p.parcel_id)) is not None
    ]
