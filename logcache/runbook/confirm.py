"""The run's one question: before the first hook that costs money (`[validation]`
`submit`/`scale_up` start jobs on machines) or publishes (`[registry] pr_command` opens a
PR), a run says what will happen and asks, once. `[run] confirm = false` or the CLI's
`--yes` skips it; the app passes its own callback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from logcache.campaign import Campaign
from logcache.errors import LogcacheError
from logcache.runbook.queries import entries
from logcache.validation.orchestrate import plan_parcels
from logcache.validation.predict import forecast
from state.model import StepName, StepStatus

Confirm = Callable[[str], bool]

VALIDATING = (StepName.VALIDATE, StepName.RECOPY_FAILED)


def costly_steps(campaign: Campaign) -> list[StepName]:
    """The open steps whose hooks cost or publish in this campaign, in run order."""
    config, state = campaign.config, campaign.state
    out = []
    for step in state.steps:
        if step.status in (StepStatus.DONE, StepStatus.SKIPPED):
            continue
        publishes = step.name is StepName.REGISTRY_EXPORT and config.pr.command and not state.pr_url
        if publishes or (step.name in VALIDATING and config.submitter.submit):
            out.append(step.name)
    return out


def question(campaign: Campaign) -> str:
    """What the run is about to do, in one line: the PR's branch, the parcels, their nodes
    and predicted cost. The caller asks whether to go on."""
    state = campaign.state
    steps = costly_steps(campaign)
    parts = []
    if StepName.REGISTRY_EXPORT in steps:
        branch = state.registry_branch or f"log-cache-{date.today().isoformat()}"
        parts.append(f"open a PR from branch {branch} ([registry] pr_command)")
    if any(s in VALIDATING for s in steps):
        parts.append(_validation(campaign))
    return f"this run will {' and '.join(parts)}"


def _validation(campaign: Campaign) -> str:
    config = campaign.config
    sub = config.submitter
    hooks = "[validation] submit" + (" and scale_up" if sub.scale_up else "")
    cached = entries(campaign)
    parcels = plan_parcels(cached, config.validation.parcel_count, config.validation.balance)
    nodes = f" on {sub.nodes} nodes each" if sub.nodes else ""
    try:
        predictions, _ = forecast(config, cached, parcels) if cached else ([], "")
    except LogcacheError as exc:
        return f"start {len(parcels)} parcel jobs{nodes} ({hooks}); cost not predicted: {exc.one_line()}"
    hours = sum(p.machine_hours or 0.0 for p in predictions)
    costs = [p.cost for p in predictions if p.cost is not None]
    seconds = max((p.seconds for p in predictions), default=0.0)
    predicted = f"predicted {seconds / 60:.1f} min"
    if sub.nodes:
        predicted += f", {hours:.2f} machine-hours"
    if costs:
        predicted += f", cost {sum(costs):.2f}"
    return f"start {len(parcels)} parcel jobs{nodes} ({hooks}), {predicted}"
