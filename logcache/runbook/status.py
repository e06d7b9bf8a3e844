"""What a campaign stands at: the checklist, counts, and the next thing to do."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from logcache.runbook.spec import SPECS
from logcache.validation.predict import ParcelForecast
from logcache.validation.predict import parcel_forecasts as read_forecasts
from state.config import CampaignConfig
from state.model import CampaignState, ParcelStatus, StepName, StepStatus

if TYPE_CHECKING:
    from logcache.runbook.next_actions import Action


@dataclass(frozen=True)
class StepLine:
    name: str
    title: str
    status: str
    manual: bool
    finished_at: str | None
    operator: str | None
    note: str


@dataclass(frozen=True)
class StatusReport:
    campaign: str
    transaction: str | None
    steps: list[StepLine]
    datasets: int
    copy_status: dict[str, int]
    failed_paths_open: int
    parcels: dict[str, int]
    aggregate: str | None
    next_step: str | None
    next_action: str | None
    image: str | None = None  # the tag the image hook pushed
    pr_url: str | None = None  # the PR the PR hook opened
    machines_held: list[str] | None = None  # parcels still holding machines (None: no submitter)
    machine_hours: float | None = None  # so far, with `nodes`
    machine_cost: float | None = None  # so far, with `hourly_cost`
    actions: list[dict[str, object]] = field(default_factory=list)  # every fix of a finding (next_actions)
    excluded: list[str] = field(default_factory=list)  # datasets left out of the patch
    # Parcels marked running or stuck, "label (backend job-id)": after the driver ended,
    # only the asynchronous submitter's jobs, which run on without it.
    parcels_running: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def parcel_forecasts(config: CampaignConfig) -> list[ParcelForecast]:
    """The latest validation's parcels: predicted duration and peak memory against what
    their units measured (`logcache status`, the app's Validators pane)."""
    return read_forecasts(config.work_dir)


def render_forecasts(forecasts: list[ParcelForecast]) -> str:
    lines = ["parcel   predicted      actual   error   peak predicted / actual"]
    for f in forecasts:
        actual = "-" if f.actual_s is None else f"{f.actual_s:9.1f} s"
        error = "" if f.error is None else f"{f.error:+.0%}"
        peak = "" if f.actual_peak is None else f"{f.actual_peak / 2**20:.0f} MiB"
        lines.append(f"{f.label:<8} {f.predicted_s:9.1f} s {actual:>11} {error:>7}   {f.predicted_peak / 2**20:.0f} MiB / {peak}")
    return "\n".join(lines)


def status_report(state: CampaignState, campaign_arg: str, config: CampaignConfig | None = None, actions: list[Action] | None = None) -> StatusReport:
    """The report; with the campaign's config, a step its hook does is not manual, and the
    asynchronous submitter's records give the machines held and their hours and cost.
    With `actions` (the fixes of the findings), a failed step's next action is the first
    fix, not the step again."""
    nxt = state.next_step()

    def manual(name: StepName) -> bool:
        return SPECS[name].manual if config is None else SPECS[name].manual_for(config)

    held = hours = cost = None
    if config is not None and config.submitter.submit:
        # Imported only here: plain `status` of a campaign without a submitter stays quick.
        from logcache.validation.jobs import default_book, held_machines

        usage = held_machines(config, default_book(config).load())
        held, hours, cost = list(usage.holding), usage.machine_hours, usage.cost
    next_action = SPECS[nxt.name].hint(campaign_arg) if nxt else None
    if nxt is not None and nxt.name is StepName.MERGE_PR and state.pr_url:
        next_action = f"{next_action}   (PR: {state.pr_url})"
    if nxt is not None and nxt.status is StepStatus.FAILED and actions:
        next_action = actions[0].command
    summary = None
    if state.aggregate:
        a = state.aggregate
        kinds = ", ".join(f"{k.kind}: {k.count}" for k in a.by_error_kind)
        summary = f"{a.valid}/{a.rows} valid" + ("" if a.all_valid else f", {a.invalid} invalid, {a.not_checked} not checked ({kinds})")
    return StatusReport(
        campaign=state.campaign_name,
        transaction=state.transaction_id,
        steps=[
            StepLine(s.name.value, SPECS[s.name].title, s.status.value, manual(s.name), s.finished_at, s.operator, s.note)
            for s in state.steps
        ],
        datasets=len(state.datasets),
        copy_status=dict(sorted(Counter(d.copy_status.value for d in state.datasets).items())),
        failed_paths_open=len(state.open_failed_paths()),
        parcels=dict(sorted(Counter(p.status.value for p in state.parcels).items())),
        aggregate=summary,
        next_step=nxt.name.value if nxt else None,
        next_action=next_action,
        image=state.image_tag,
        pr_url=state.pr_url,
        machines_held=held,
        machine_hours=None if hours is None else round(hours, 3),
        machine_cost=None if cost is None else round(cost, 2),
        actions=[asdict(a) for a in actions or []],
        excluded=sorted(state.excluded()),
        parcels_running=[
            f"{p.parcel_id} ({' '.join(x for x in (p.backend, p.job_id) if x)})"
            for p in state.parcels
            if p.status in (ParcelStatus.RUNNING, ParcelStatus.STUCK)
        ],
    )


ICONS = {
    StepStatus.PENDING.value: "[ ]",
    StepStatus.RUNNING.value: "[>]",
    StepStatus.DONE.value: "[x]",
    StepStatus.FAILED.value: "[!]",
    StepStatus.SKIPPED.value: "[-]",
}


def render_status(report: StatusReport) -> str:
    lines = [f"campaign {report.campaign}   transaction {report.transaction or '(not chosen)'}", ""]
    for s in report.steps:
        manual = " (manual)" if s.manual else ""
        note = f"  {s.note}" if s.note else ""
        lines.append(f"{ICONS[s.status]} {s.title}{manual}{note}")
    lines.append("")
    copies = ", ".join(f"{v} {k}" for k, v in report.copy_status.items()) or "none yet"
    lines.append(f"datasets: {report.datasets} ({copies}); open failed paths: {report.failed_paths_open}")
    if report.parcels:
        lines.append("parcels: " + ", ".join(f"{v} {k}" for k, v in report.parcels.items()))
    if report.parcels_running:
        lines.append("running: " + ", ".join(report.parcels_running))
    if report.aggregate:
        lines.append(f"cache-validations: {report.aggregate}")
    if report.image:
        lines.append(f"image: {report.image}")
    if report.pr_url:
        lines.append(f"PR: {report.pr_url}")
    if report.machines_held is not None:
        held = f"machines still held by parcels {', '.join(report.machines_held)}" if report.machines_held else "no machines held"
        if report.machine_hours is not None:
            held += f"; {report.machine_hours:.2f} machine-hours so far"
        if report.machine_cost is not None:
            held += f", cost {report.machine_cost:.2f}"
        lines.append(held)
    if report.excluded:
        lines.append(f"excluded from the registry patch: {', '.join(report.excluded)}")
    lines.append(f"next: {report.next_action}" if report.next_action else "next: nothing; the refresh is complete")
    lines += action_lines(report.actions)
    return "\n".join(lines)


def action_lines(actions: list[dict[str, object]]) -> list[str]:
    """Each fix: why, then the command."""
    return [f"  fix: {a['why']}\n       {a['command']}" for a in actions]

