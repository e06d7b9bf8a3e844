"""Toasts the runbook's own events deserve: what the run-all driver starts on its own
(the re-copy of failed paths) and how it ended. Decided in the worker thread when the
event is sent, so the state read is the one the step started from, however soon the
step ends."""

from __future__ import annotations

from logcache.campaign import Campaign
from logcache.runbook import queries
from logcache.runbook.events import RunbookEvent, StepEnded, StepStarted
from state.model import StepName, StepStatus
from tui.messages import Toast

TITLE = "re-copy"
# Where the toast points; the app leaves it out while that pane is on screen.
SEE_FAILED = "; see 3 Failed"


def step_toast(event: RunbookEvent, campaign: Campaign) -> Toast | None:
    match event:
        case StepStarted(step=StepName.RECOPY_FAILED):
            paths = campaign.state.open_failed_paths()
            if not paths:
                return None  # never a toast that announces nothing
            names = ", ".join(queries.failed_datasets(campaign))
            return Toast(f"re-copying {len(paths)} failed paths" + (f" ({names})" if names else "") + f", then re-validating those datasets{SEE_FAILED}", TITLE)
        case StepEnded(step=StepName.RECOPY_FAILED, status=status, note=note) if status is not StepStatus.PENDING:
            text = f"re-copy of failed paths {status.value}" + (f": {note}" if note else "")
            return Toast(text + SEE_FAILED, TITLE, "error" if status is StepStatus.FAILED else "information")
    return None
