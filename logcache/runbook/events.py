"""Everything the runbook's steps report while they run, as one union of typed events.

The step packages define the events of their own work (copy progress, a dataset
verified, a parcel's update, discovery progress) next to the code that sends them; this
module adds the runbook's own (a step started or ended, a failed path recorded) and
names the union, `RunbookEvent`, that the CLI and the app receive through an
`EventSink`. Match on the class (`match event: case CopyProgress(): ...`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from logcache.copy.events import CopyFinished, CopyPlanned, CopyProgress, DatasetConflict, DatasetFailed, DatasetVerified
from logcache.discover.footers import DiscoverProgress
from logcache.validation.orchestrate import ParcelUpdate
from state.model import FailedPathOrigin, StepName, StepStatus

__all__ = [
    "CopyFinished",
    "CopyPlanned",
    "CopyProgress",
    "DatasetConflict",
    "DatasetFailed",
    "DatasetVerified",
    "DiscoverProgress",
    "EventSink",
    "FailedPathFound",
    "HookOutput",
    "Notice",
    "ParcelUpdate",
    "RunbookEvent",
    "StepEnded",
    "StepStarted",
    "ignore",
]


@dataclass(frozen=True)
class StepStarted:
    step: StepName


@dataclass(frozen=True)
class StepEnded:
    """A step's end as the checklist records it: done, failed (goal not reached),
    pending (interrupted, to resume) or left as it was (a partial run)."""

    step: StepName
    status: StepStatus
    note: str


@dataclass(frozen=True)
class FailedPathFound:
    """A path recorded in the failed-path ledger (new, or open again)."""

    url: str
    origin: FailedPathOrigin
    dataset_name: str


@dataclass(frozen=True)
class HookOutput:
    """One line an operator command printed (the image build, the PR, a parcel's submit,
    status, logs or scaling), cleaned for display; the whole output is kept under `jobs/`.
    `hook` names the command (`image`, `pr`, `validate`)."""

    hook: str
    line: str


@dataclass(frozen=True)
class Notice:
    """Something the operator should read that changes nothing in the run (a notification
    that could not be sent, machines given back on resume)."""

    text: str


RunbookEvent = (
    StepStarted
    | StepEnded
    | FailedPathFound
    | DiscoverProgress
    | CopyPlanned
    | CopyProgress
    | DatasetVerified
    | DatasetFailed
    | DatasetConflict
    | CopyFinished
    | ParcelUpdate
    | HookOutput
    | Notice
)

EventSink = Callable[[RunbookEvent], None]


def ignore(event: RunbookEvent) -> None:
    """The sink of a caller that shows no progress."""
