"""Runbook step 4: the registry patch that becomes the PR, for the verified copies only;
with `[registry] pr_command`, applied on its branch and the PR opened by the hook."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from logcache.campaign import Campaign
from logcache.errors import UsageError
from logcache.hooks.pr import open_pr
from logcache.hooks.template import uses
from logcache.registry import RegistryPatch, apply_patch, default_patch_path, export_patch, plan_registry, require_work_tree
from logcache.runbook.events import EventSink, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, StepFailed, hook_lines, run_step, stop_if_cancelled
from logcache.runbook.queries import entries, exclusions, verified_entries
from logcache.validation.report import HTML_NAME
from state.model import StepName


def run(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None, out: Path | None = None) -> Path:
    """A dataset not verified at the destination is never put in the registry. A rerun
    after the PR hook failed reuses the branch and retries the hook."""
    on_event = journaled(campaign, on_event)
    cached, ready = entries(campaign), verified_entries(campaign)
    if not ready:
        raise UsageError("no dataset is verified at the destination yet; run the copy first (logcache copy CAMPAIGN)")
    state = campaign.state
    # Once applied for the PR, the registry holds the patch: a rerun keeps the exported
    # file and the branch, and only retries the PR hook.
    applied = state.registry_branch is not None
    patch = plan_registry(campaign.config, ready, exclusions(state))
    target = out or default_patch_path(campaign.config, date.today())
    pr_command = campaign.config.pr.command
    if pr_command and not applied and patch.repo is None and uses(pr_command, "branch"):
        raise UsageError(
            f"[registry] pr_command uses {{branch}}, but the registry {patch.path} is not in a git work tree, so no branch is made;"
            " set [registry] path to the registry in its repository's checkout, or drop {branch}"
        )

    def work() -> Done[Path]:
        stop_if_cancelled(cancel)
        path = Path(state.patch_path) if applied and state.patch_path else export_patch(patch, target)
        state.patch_path = str(path)
        accounted = state.excluded() | {e.name for e in ready}
        left = sum(e.name not in accounted for e in cached)
        if left:
            raise StepFailed(f"{left} datasets are not verified at the destination and were left out of {path}; copy them, then export again", path)
        note = f"{patch.summary()} -> {path}" if not applied else f"{path}"
        if campaign.config.pr.command:
            if not applied:
                result = apply_patch(patch, date.today())
                state.registry_branch = result.branch or ""
                campaign.save()  # the branch exists now, whatever the hook does
            pr = open_pr(
                campaign.config,
                patch=path,
                branch=state.registry_branch or "",
                report=campaign.config.work_dir / HTML_NAME,
                on_line=hook_lines("pr", on_event),
                cancel=cancel,
            )
            assert pr is not None
            state.pr_url = pr.url
            note += f"; PR {pr.url}"
        return Done(path, note)

    return run_step(campaign, StepName.REGISTRY_EXPORT, work, on_event)


def check_apply(campaign: Campaign) -> RegistryPatch:
    """The patch `apply_registry` would apply; refused (one line) where it would refuse,
    outside a git work tree, so the app says so before it asks anything."""
    patch = plan_registry(campaign.config, verified_entries(campaign), exclusions(campaign.state))
    require_work_tree(patch, campaign.config.path)
    return patch


def apply_registry(campaign: Campaign) -> str:
    """Apply the patch of the verified, not excluded datasets on a new branch of the
    registry's git work tree, its commit message listing the exclusions. Outside git it
    refuses and writes nothing (no in-place edit without a way back). The caller asks
    the operator first about `queries.apply_risks`."""
    result = apply_patch(check_apply(campaign), date.today())
    return f"branch {result.branch}, commit {result.commit}"
