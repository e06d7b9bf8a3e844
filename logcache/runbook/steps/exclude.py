"""Leave datasets out of the registry patch: they keep their previous cache entry. Not a
step of the checklist: what the operator decides for a dataset that cannot be fixed in
this refresh, so the run can reach a mergeable patch with a known list of exclusions."""

from __future__ import annotations

from logcache.campaign import Campaign
from logcache.errors import UsageError
from logcache.runbook.next_actions import resolve_names
from logcache.runbook.queries import entries
from state.model import StepName, StepStatus


def run(campaign: Campaign, names: list[str], reason: str) -> list[str]:
    """Record the exclusions with the reason; an exported patch is exported again by the
    next run. Unknown names and an empty reason are refused before anything is written."""
    if not reason.strip():
        raise UsageError("say why with --reason TEXT; it goes into the patch's summary and the PR")
    resolved = resolve_names(entries(campaign), names)
    state = campaign.state
    for name in resolved:
        state.exclude(name, reason.strip())
    export = state.step(StepName.REGISTRY_EXPORT)
    if export.status in (StepStatus.DONE, StepStatus.FAILED) and state.registry_branch is None:
        export.status, export.note = StepStatus.PENDING, f"export again: {len(state.exclusions)} datasets excluded"
    campaign.save()
    return resolved
