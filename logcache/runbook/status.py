"""What a campaign stands at: the checklist, counts, and the next thing to do."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from logcache.runbook.spec import SPECS
from state.config import CampaignConfig
from state.model import CampaignState, StepName, StepStatus


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

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def status_report(state: CampaignState, campaign_arg: str, config: CampaignConfig | None = None) -> StatusReport:
    """The report; with the campaign's config, a step its hook does is not manual, and the
    asynchronous submitter's records give the machines held and their hours and cost."""
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
    lines.append(f"next: {report.next_action}" if report.next_action else "next: nothing; the refresh is complete")
    return "\n".join(lines)
