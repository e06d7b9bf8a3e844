"""How a step runs over a campaign: marked running and saved, its work done, then marked
done, failed or pending (interrupted), each change saved and reported as an event.

Every runner in `runbook/steps/` goes through `run_step` (or `run_as` for partial runs),
so the checklist, the state file and the front ends see one lifecycle whatever the step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from logcache.campaign import Campaign
from logcache.errors import LogcacheError, describe
from logcache.runbook.events import EventSink, FailedPathFound, HookOutput, StepEnded, StepStarted, ignore
from state.model import INTERRUPTED_NOTE, FailedPathOrigin, StepName, StepStatus

T = TypeVar("T")


class StepFailed(LogcacheError, Generic[T]):
    """A step ran but did not reach its goal (datasets not copied, parcels failed, rows
    invalid). The message is the step's note; `result` is what the step did get done;
    `fix`, the CLI's way on (the app has keys for it), ends the note after `finding`."""

    exit_code = 1  # findings, not a refusal

    def __init__(self, note: str, result: T | None = None, fix: str = "") -> None:
        super().__init__(f"{note}; {fix}" if fix else note)
        self.result = result
        self.finding = " ".join(note.split())


class StepInterrupted(KeyboardInterrupt, Generic[T]):
    """A step stopped by its cancel event; `result` is what it had done by then. The step
    is left pending, to resume."""

    def __init__(self, result: T | None = None) -> None:
        super().__init__("interrupted")
        self.result = result


@dataclass(frozen=True)
class Done(Generic[T]):
    """What a step's work hands back when its goal is reached: its result, and the note
    the checklist shows."""

    result: T
    note: str


def stop_if_cancelled(cancel: threading.Event | None) -> None:
    """For steps whose work has no cancel of its own: stop between two pieces of it."""
    if cancel is not None and cancel.is_set():
        raise StepInterrupted()


def run_step(campaign: Campaign, name: StepName, work: Callable[[], Done[T]], on_event: EventSink = ignore) -> T:
    """Run `work` as step `name`: running -> done with its note; failed with the note of
    `StepFailed` or of an error; pending again when interrupted."""
    state = campaign.state
    state.start_step(name)
    campaign.save()
    on_event(StepStarted(name))

    def end(status: StepStatus, note: str) -> None:
        state.finish_step(name, status, note=note)
        campaign.save()
        on_event(StepEnded(name, status, note))

    try:
        done = settling(campaign, work)
    except LogcacheError as exc:
        end(StepStatus.FAILED, exc.one_line())
        raise
    except KeyboardInterrupt:
        end(StepStatus.PENDING, INTERRUPTED_NOTE)
        raise
    except Exception as exc:
        # A bug still ends the step: never left "running" for the next session to trust.
        end(StepStatus.FAILED, f"internal error: {describe(exc)}")
        raise
    end(StepStatus.DONE, done.note)
    return done.result


def settling(campaign: Campaign, work: Callable[[], Done[T]]) -> Done[T]:
    """`work`, after which, however it ended (done, failed, interrupted, crashed), no parcel
    of this machine is left marked running: its processes are gone with the work."""
    try:
        return work()
    finally:
        if campaign.state.interrupt_parcels(campaign.detached):
            campaign.mark()


def run_as(campaign: Campaign, step: StepName | None, partial: bool, work: Callable[[], Done[T]], on_event: EventSink = ignore) -> T:
    """Run `work` as `step`, except a partial run (`--only`, `--filter-by-name`) before the
    whole step is done, or no step at all: those leave the checklist as it was."""
    if step is None or (partial and campaign.state.step(step).status is not StepStatus.DONE):
        return settling(campaign, work).result
    return run_step(campaign, step, work, on_event)


def record_failed_path(campaign: Campaign, url: str, origin: FailedPathOrigin, dataset_name: str, on_event: EventSink) -> None:
    # An excluded dataset's paths are accounted for: nothing to fix in this refresh.
    if dataset_name in campaign.state.excluded():
        return
    if campaign.state.add_failed_path(url, origin, dataset_name):
        on_event(FailedPathFound(url, origin, dataset_name))


def hook_lines(hook: str, on_event: EventSink) -> Callable[[str], None]:
    """A hook's output lines as `HookOutput` events."""
    return lambda line: on_event(HookOutput(hook, line))
