"""`logcache run`: every automatable step in order, skipping what is done, stopping at
manual steps with instructions. The TUI's "run all" calls the same function."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logcache.runbook import steps
from logcache.campaign import Campaign
from logcache.errors import LogcacheError
from logcache.runbook.status import NEXT_ACTIONS
from state.model import MANUAL_STEPS, StepName, StepStatus


@dataclass(frozen=True)
class DriverOutcome:
    finished: bool  # every step done or skipped
    stopped_at: StepName | None
    message: str


def run_campaign(
    campaign: Campaign,
    campaign_arg: str,
    on_event: Callable[[Any], None] | None = None,
    cancel: threading.Event | None = None,
    say: Callable[[str], None] = print,
) -> DriverOutcome:
    state = campaign.state
    for step in state.steps:
        if cancel is not None and cancel.is_set():
            raise KeyboardInterrupt
        if step.status in (StepStatus.DONE, StepStatus.SKIPPED):
            continue
        if step.name in MANUAL_STEPS:
            return DriverOutcome(False, step.name, NEXT_ACTIONS[step.name].format(c=campaign_arg))
        say(f"-> {step.name.value}")
        try:
            run_step(campaign, step.name, on_event, cancel)
        except steps.StepFailed:
            pass  # recorded in the step's note, said below; later steps may still run
        except LogcacheError as exc:
            return DriverOutcome(False, step.name, f"{step.name.value} failed: {exc.one_line()}")
        say(f"   {state.step(step.name).status.value}: {state.step(step.name).note}")
    return DriverOutcome(True, None, "every step is done")


def run_step(
    campaign: Campaign,
    name: StepName,
    on_event: Callable[[Any], None] | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Run one automatable step; a step that ends failed (its work done but its goal not
    reached, e.g. datasets not copied) raises StepFailed with the step's note."""
    if name is StepName.PICK_TRANSACTION:
        steps.pick(campaign)
    elif name is StepName.DISCOVER:
        steps.run_discover(campaign, on_event)
    elif name is StepName.COPY:
        steps.run_copy(campaign, on_event=on_event, cancel=cancel)
    elif name is StepName.REGISTRY_EXPORT:
        steps.run_registry_export(campaign)
    elif name is StepName.VALIDATE:
        steps.run_validate(campaign, on_event=on_event, cancel=cancel)
    elif name is StepName.RECOPY_FAILED:
        steps.run_recopy_failed(campaign, on_event=on_event, cancel=cancel)
    elif name is StepName.AGGREGATE:
        steps.run_aggregate(campaign)
    else:
        raise steps.StepFailed(f"{name.value} is a manual step: {NEXT_ACTIONS[name]}")
    step = campaign.state.step(name)
    if step.status is StepStatus.FAILED:
        raise steps.StepFailed(step.note)
