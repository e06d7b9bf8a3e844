"""The runbook as one table: every step's name, titles, whether it is manual, its runner
and what to tell the operator to do next.

The checklist (`status`), the driver (`logcache run`), the CLI's `step done` and the app
all read `RUNBOOK`; adding a step is one `StepSpec` here, one runner in `steps.py`, and
its name in `state.model.StepName` (the order of `RUNBOOK` is the order of `StepName`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from state.config import CampaignConfig
from state.model import StepName

if TYPE_CHECKING:
    from logcache.campaign import Campaign
    from logcache.runbook.events import EventSink

# A step's runner: its work over the campaign, reporting to the sink and stopping when
# the event is set. It returns the step's result or raises (steps.StepFailed, an error).
Runner = Callable[["Campaign", "EventSink", threading.Event | None], object]


@dataclass(frozen=True)
class StepSpec:
    name: StepName
    title: str  # the checklist's line in `status`
    short_title: str  # one line in the app's checklist, even at 80 columns
    next_action: str  # what to do next while this step is open; `{c}` is the campaign file
    runner: Runner | None = None  # None: a manual step, confirmed with `logcache step done`
    # A manual step that a configured hook does instead of the operator: the hook's runner,
    # and whether the campaign configures it. Without the hook the step stays manual.
    hook_runner: Runner | None = None
    hooked: Callable[[CampaignConfig], bool] | None = None

    @property
    def manual(self) -> bool:
        """Manual by default, whatever the campaign configures (the `(manual)` of the checklist)."""
        return self.runner is None

    def runner_for(self, config: CampaignConfig) -> Runner | None:
        """What runs this step in this campaign: its runner, its hook's, or None (the operator)."""
        if self.runner is not None:
            return self.runner
        if self.hooked is not None and self.hooked(config):
            return self.hook_runner
        return None

    def manual_for(self, config: CampaignConfig) -> bool:
        return self.runner_for(config) is None

    def hint(self, campaign_arg: str) -> str:
        return self.next_action.format(c=campaign_arg)


def _steps() -> ModuleType:
    # The step functions pull in the data stack (Arrow, Polars, boto3); `logcache status`
    # reads only this table and stays quick, so runners import them when they run.
    from logcache.runbook import steps

    return steps


def _run_or(command: str) -> str:
    return f"logcache run {{c}}   (or: {command})"


RUNBOOK: tuple[StepSpec, ...] = (
    StepSpec(
        StepName.PICK_TRANSACTION,
        "Pick the nightly run",
        "Pick nightly run",
        _run_or("logcache transactions {c} --pick [ID]"),
        lambda campaign, on_event, cancel: _steps().pick(campaign, on_event=on_event),
    ),
    StepSpec(
        StepName.DISCOVER,
        "Discover T per dataset",
        "Discover T",
        _run_or("logcache discover {c}"),
        lambda campaign, on_event, cancel: _steps().run_discover(campaign, on_event),
    ),
    StepSpec(
        StepName.COPY,
        "Copy ephemeral -> permanent",
        "Copy to permanent",
        _run_or("logcache copy {c}"),
        lambda campaign, on_event, cancel: _steps().run_copy(campaign, on_event=on_event, cancel=cancel),
    ),
    StepSpec(
        StepName.REGISTRY_EXPORT,
        "Export the registry PR",
        "Export PR patch",
        _run_or("logcache registry export {c}"),
        lambda campaign, on_event, cancel: _steps().run_registry_export(campaign, on_event=on_event, cancel=cancel),
    ),
    StepSpec(
        StepName.BUILD_IMAGE,
        "Build and push the image",
        "Build image",
        "build and push the ETL image with the registry patch, then: logcache step done {c} build-image --note 'TAG'"
        "   (or set [image] command and: logcache run {c})",
        hook_runner=lambda campaign, on_event, cancel: _steps().run_build_image(campaign, on_event=on_event, cancel=cancel),
        hooked=lambda config: bool(config.image.command),
    ),
    StepSpec(
        StepName.VALIDATE,
        "Validate in parcels",
        "Validate parcels",
        _run_or("logcache validate {c}"),
        lambda campaign, on_event, cancel: _steps().run_validate(campaign, on_event=on_event, cancel=cancel),
    ),
    StepSpec(
        StepName.RECOPY_FAILED,
        "Re-copy failed paths",
        "Re-copy failed",
        "logcache run {c}   (re-copies the failed paths and re-validates those datasets)",
        lambda campaign, on_event, cancel: _steps().run_recopy_failed(campaign, on_event, cancel),
    ),
    StepSpec(
        StepName.AGGREGATE,
        "Aggregate cache-validations",
        "Aggregate",
        _run_or("logcache aggregate {c}"),
        lambda campaign, on_event, cancel: _steps().run_aggregate(campaign, on_event),
    ),
    StepSpec(
        StepName.MERGE_PR,
        "Merge the PR",
        "Merge PR",
        "merge the registry PR, then: logcache step done {c} merge-pr --note 'PR URL'",
    ),
)

SPECS: dict[StepName, StepSpec] = {s.name: s for s in RUNBOOK}
MANUAL_STEPS: frozenset[StepName] = frozenset(s.name for s in RUNBOOK if s.manual)
