"""The build-image step's hook: `[image] command`, run with `{campaign}`, `{patch}` and
`{branch}`; the tag it pushed is read from its output by `[image] tag_pattern`. Without a
command the step stays manual."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from logcache.hooks.runner import LineSink, hook_cwd, jobs_dir, run_hook
from logcache.hooks.template import render
from state.config import CampaignConfig


@dataclass(frozen=True)
class ImageBuild:
    tag: str
    log_path: Path


def build_image(
    config: CampaignConfig, *, patch: Path, branch: str, on_line: LineSink | None = None, cancel: threading.Event | None = None
) -> ImageBuild | None:
    """Run the image hook to its end; None when none is configured (a manual step). Raises
    HookFailed with the last lines of output when it fails or prints no tag."""
    hook = config.image
    if not hook.command:
        return None
    command = render("image", hook.command, {"campaign": str(config.path), "patch": str(patch), "branch": branch})
    run = run_hook(
        "image", command, log_path=jobs_dir(config) / "image.log", on_line=on_line, pattern=hook.tag_pattern, timeout_s=hook.timeout_s, cancel=cancel, cwd=hook_cwd(config)
    )
    assert run.value is not None  # run_hook raises when the pattern found nothing
    return ImageBuild(run.value, run.log_path)
