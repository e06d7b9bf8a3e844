"""The PR hook: `[registry] pr_command` (e.g. `gh pr create --fill --head {branch}`), run
once the patch is applied on its branch; the PR's URL is read from its output by
`[registry] pr_url_pattern` (by default the last http(s) URL it printed)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from logcache.hooks.runner import LineSink, hook_cwd, jobs_dir, run_hook
from logcache.hooks.template import render
from state.config import CampaignConfig


@dataclass(frozen=True)
class PullRequest:
    url: str
    log_path: Path


def open_pr(
    config: CampaignConfig,
    *,
    patch: Path,
    branch: str,
    report: Path,
    on_line: LineSink | None = None,
    cancel: threading.Event | None = None,
) -> PullRequest | None:
    """Run the PR hook; None when none is configured (the operator opens the PR).
    `report` is where the aggregate writes `cache-validations.html`."""
    hook = config.pr
    if not hook.command:
        return None
    values = {"campaign": str(config.path), "patch": str(patch), "branch": branch, "report": str(report)}
    command = render("pr", hook.command, values)
    run = run_hook("pr", command, log_path=jobs_dir(config) / "pr.log", on_line=on_line, pattern=hook.url_pattern, timeout_s=hook.timeout_s, cancel=cancel, cwd=hook_cwd(config))
    assert run.value is not None  # run_hook raises when the pattern found nothing
    return PullRequest(run.value, run.log_path)
