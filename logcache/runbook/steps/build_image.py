"""The build-image step when `[image] command` is set: the hook builds and pushes the
image holding the registry patch; its tag is the step's note and the `{image}` of the
validation jobs. Without the hook the step is manual (`logcache step done`)."""

from __future__ import annotations

import threading
from pathlib import Path

from logcache.campaign import Campaign
from logcache.errors import UsageError
from logcache.hooks.image import build_image
from logcache.hooks.template import uses
from logcache.runbook.events import EventSink, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, hook_lines, run_step
from state.model import StepName


def run(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> str:
    """A failure leaves the step failed and the next run retries it."""
    on_event = journaled(campaign, on_event)
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

    return run_step(campaign, StepName.BUILD_IMAGE, work, on_event)
