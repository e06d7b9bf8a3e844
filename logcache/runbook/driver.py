"""`logcache run`: every automatable step in order, skipping what is done, stopping at a
manual step with instructions and at a step whose goal was not reached. The app's
"run all" calls the same function."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

from logcache.campaign import Campaign
from logcache.errors import UsageError
from logcache.runbook.events import EventSink, ignore
from logcache.runbook.spec import MANUAL_STEPS, SPECS
from logcache.runbook.steps import StepFailed, check_locations
from state.model import StepName, StepStatus


class Stop(StrEnum):
    """Why a run ended; each has its exit code (`logcache.cli.exits`)."""

    FINISHED = "finished"  # every step done or skipped
    MANUAL = "manual"  # waiting for the operator at a manual step
    FAILED = "failed"  # a step ran but did not reach its goal


@dataclass(frozen=True)
class DriverOutcome:
    stop: Stop
    stopped_at: StepName | None
    message: str

    @property
    def finished(self) -> bool:
        return self.stop is Stop.FINISHED


def run_campaign(
    campaign: Campaign,
    campaign_arg: str,
    on_event: EventSink = ignore,
    cancel: threading.Event | None = None,
) -> DriverOutcome:
    """Run the open steps in order. Errors an operator can fix (a bad endpoint, a bad
    argument) propagate as raised, after the step recorded them; a cancel raises
    KeyboardInterrupt once the step in flight has saved its progress."""
    check_locations(campaign)
    for step in campaign.state.steps:
        if cancel is not None and cancel.is_set():
            raise KeyboardInterrupt
        if step.status in (StepStatus.DONE, StepStatus.SKIPPED):
            continue
        spec = SPECS[step.name]
        if spec.manual:
            return DriverOutcome(Stop.MANUAL, step.name, spec.hint(campaign_arg))
        try:
            run_step(campaign, step.name, on_event, cancel)
        except StepFailed as failed:
            return DriverOutcome(Stop.FAILED, step.name, f"{step.name.value} failed: {failed.one_line()}")
    return DriverOutcome(Stop.FINISHED, None, "every step is done")


def run_step(campaign: Campaign, name: StepName, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> object:
    """Run one automatable step through its spec's runner and return its result; a step
    that ends failed (its work done but its goal not reached) raises StepFailed."""
    spec = SPECS[name]
    if spec.runner is None:
        raise UsageError(f"{name.value} is a manual step: {spec.next_action}")
    return spec.runner(campaign, on_event, cancel)


def confirm_manual(campaign: Campaign, name: StepName, note: str) -> None:
    """Record a manual step (build the image, merge the PR) as done by this operator."""
    if name not in MANUAL_STEPS:
        raise UsageError(f"{name} is not a manual step; manual steps are {', '.join(sorted(MANUAL_STEPS))}")
    campaign.state.finish_step(name, StepStatus.DONE, note=note)
    campaign.save()
