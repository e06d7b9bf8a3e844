"""The runbook as one table: every step's name, titles, whether it is manual, its runner
and what to tell the operator to do next.

The checklist (`status`), the driver (`logcache run`), the CLI's `step done` and the app
all read `RUNBOOK`; adding a step is one `StepSpec` here, one module in `steps/` with a
`run(campaign, on_event, cancel)`, and its name in `state.model.StepName` (the order of
`RUNBOOK` is the order of `StepName`).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from state.config import CampaignConfig
from state.model import StepName

if TYPE_CHECKING:
    from logcache.campaign import Campaign
    from logcache.runbook.events import EventSink

# A step's runner: its work over the campaign, reporting to the sink and stopping when
# the event is set. It returns the step's result or raises (StepFailed, an error).
Runner = Callable[["Campaign", "EventSink", threading.Event | None], object]


@dataclass(frozen=True)
class Prompt:
    """What a front end asks the operator who confirms a manual step by hand."""

    question: str
    placeholder: str


@dataclass(frozen=True)
class StepSpec:
    name: StepName
    title: str  # the checklist's line in `status`
    short_title: str  # one line in the app's checklist, even at 80 columns
    next_action: str  # what to do next while this step is open; `{c}` is the campaign file
    # The module of `logcache.runbook.steps` whose `run` does the step; None: a manual
    # step, confirmed with `logcache step done`.
    module: str | None = None
    # A manual step that a configured hook does instead of the operator (through
    # `module`), when the campaign configures it. Without the hook the step stays manual.
    hooked: Callable[[CampaignConfig], bool] | None = None
    prompt: Prompt | None = None  # a manual step's question for its note
    notify: bool = False  # its end is worth a bell and a desktop notification

    @property
    def manual(self) -> bool:
        """Manual by default, whatever the campaign configures (the `(manual)` of the checklist)."""
        return self.module is None or self.hooked is not None

    @property
    def runner(self) -> Runner | None:
        """The step's own runner; None for a manual step (even one a hook may do)."""
        return None if self.hooked is not None else self._load()

    def runner_for(self, config: CampaignConfig) -> Runner | None:
        """What runs this step in this campaign: its runner, its hook's, or None (the operator)."""
        if self.hooked is not None and not self.hooked(config):
            return None
        return self._load()

    def _load(self) -> Runner | None:
        # The step modules pull in the data stack (Arrow, Polars, boto3); `logcache status`
        # reads only this table and stays quick, so a runner is imported when asked for.
        if self.module is None:
            return None
        run: Runner = importlib.import_module(f"logcache.runbook.steps.{self.module}").run
        return run

    def manual_for(self, config: CampaignConfig) -> bool:
        return self.runner_for(config) is None

    def hint(self, campaign_arg: str) -> str:
        return self.next_action.format(c=campaign_arg)


def _run_or(command: str) -> str:
    return f"logcache run {{c}}   (or: {command})"


RUNBOOK: tuple[StepSpec, ...] = (
    StepSpec(StepName.PICK_TRANSACTION, "Pick the nightly run", "Pick nightly run", _run_or("logcache transactions {c} --pick [ID]"), "pick"),
    StepSpec(StepName.DISCOVER, "Discover T per dataset", "Discover T", _run_or("logcache discover {c}"), "discover"),
    StepSpec(StepName.COPY, "Copy ephemeral -> permanent", "Copy to permanent", _run_or("logcache copy {c}"), "copy", notify=True),
    StepSpec(StepName.REGISTRY_EXPORT, "Export the registry PR", "Export PR patch", _run_or("logcache registry export {c}"), "registry_export"),
    StepSpec(
        StepName.BUILD_IMAGE,
        "Build and push the image",
        "Build image",
        "build and push the ETL image with the registry patch, then: logcache step done {c} build-image --note 'TAG'"
        "   (or set [image] command and: logcache run {c})",
        "build_image",
        hooked=lambda config: bool(config.image.command),
        prompt=Prompt("Build image: the tag of the image built and pushed with the registry patch", "e.g. quay-a8334c1"),
    ),
    StepSpec(StepName.VALIDATE, "Validate in parcels", "Validate parcels", _run_or("logcache validate {c}"), "validate", notify=True),
    StepSpec(
        StepName.RECOPY_FAILED,
        "Re-copy failed paths",
        "Re-copy failed",
        "logcache run {c}   (re-copies the failed paths and re-validates those datasets)",
        "recopy_failed",
        notify=True,
    ),
    StepSpec(StepName.AGGREGATE, "Aggregate cache-validations", "Aggregate", _run_or("logcache aggregate {c}"), "aggregate"),
    StepSpec(
        StepName.MERGE_PR,
        "Merge the PR",
        "Merge PR",
        "merge the registry PR, then: logcache step done {c} merge-pr --note 'PR URL'",
        prompt=Prompt("Merge PR: the URL of the merged registry PR", "https://..."),
    ),
)

SPECS: dict[StepName, StepSpec] = {s.name: s for s in RUNBOOK}
MANUAL_STEPS: frozenset[StepName] = frozenset(s.name for s in RUNBOOK if s.manual)
