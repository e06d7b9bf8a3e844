"""Toasts the runbook's own events deserve: what the run-all driver starts on its own
(the re-copy of failed paths) and how it ended. Decided in the worker thread when the
event is sent, so the state read is the one the step started from, however soon the
step ends."""

from __future__ import annotations

from logcache.runbook.events import RunbookEvent, StepEnded, StepStarted
from state.model import CampaignState, Resolution, StepName, StepStatus
from tui.messages import Toast

TITLE = "re-copy"


def step_toast(event: RunbookEvent, state: CampaignState) -> Toast | None:
    match event:
        case StepStarted(step=StepName.RECOPY_FAILED):
            paths = [fp for fp in state.failed_paths if fp.resolution in (Resolution.OPEN, Resolution.RECOPIED)]
            names = ", ".join(dict.fromkeys(fp.dataset_name for fp in paths if fp.dataset_name))
            return Toast(f"re-copying {len(paths)} failed paths ({names}), then re-validating those datasets; see 3 Failed", TITLE)
        case StepEnded(step=StepName.RECOPY_FAILED, status=status, note=note) if status is not StepStatus.PENDING:
            return Toast(f"re-copy of failed paths {status.value}: {note}; see 3 Failed", TITLE, "error" if status is StepStatus.FAILED else "information")
    return None
