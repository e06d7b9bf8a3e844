"""What a campaign stands at: the checklist, counts, and the next thing to do."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from logcache.runbook.spec import SPECS
from state.model import CampaignState, StepStatus

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

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def status_report(state: CampaignState, campaign_arg: str) -> StatusReport:
    nxt = state.next_step()
    summary = None
    if state.aggregate:
        a = state.aggregate
        summary = f"{a.valid}/{a.rows} valid" + ("" if a.all_valid else f", {a.invalid} invalid ({', '.join(f'{k.kind}: {k.count}' for k in a.by_error_kind)})")
    return StatusReport(
        campaign=state.campaign_name,
        transaction=state.transaction_id,
        steps=[
            StepLine(s.name.value, SPECS[s.name].title, s.status.value, SPECS[s.name].manual, s.finished_at, s.operator, s.note)
            for s in state.steps
        ],
        datasets=len(state.datasets),
        copy_status=dict(sorted(Counter(d.copy_status.value for d in state.datasets).items())),
        failed_paths_open=len(state.open_failed_paths()),
        parcels=dict(sorted(Counter(p.status.value for p in state.parcels).items())),
        aggregate=summary,
        next_step=nxt.name.value if nxt else None,
        next_action=SPECS[nxt.name].hint(campaign_arg) if nxt else None,
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
    lines.append(f"next: {report.next_action}" if report.next_action else "next: nothing; the refresh is complete")
    return "\n".join(lines)
