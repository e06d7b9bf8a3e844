"""What the main screen needs of the app, as a protocol, so the screen never imports
the app: the campaign, the live view, and the gate through which all work starts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from logcache.campaign import Campaign
from logcache.runbook.events import RunbookEvent
from state.model import StepName
from tui.live import Live

# A piece of work run in a thread; it returns a line worth a toast, or None.
Work = Callable[[], str | None]


class Host(Protocol):
    campaign: Campaign
    campaign_path: Path
    live: Live
    cancel: threading.Event  # set when the operator stops the work in flight
    operator: str
    holder: str  # who drives the campaign when this session is read-only, else ""
    busy: str  # what runs now, or ""
    stopping: bool

    @property
    def manual_steps(self) -> frozenset[StepName]:
        """The steps the operator does in this campaign (a configured hook does the others)."""

    def refusal(self, what: str) -> str | None:
        """Why `what` may not start now, or None."""

    def allowed(self, what: str) -> bool:
        """The gate's check, for actions that ask a question before starting work; says
        why not in a toast."""

    def start_work(self, what: str, work: Work, notify: bool = False) -> bool:
        """The one way work starts: in a thread worker, or refused with the reason in a
        toast. `notify`: ring the bell and send a desktop notification at its end."""

    def emit(self, event: RunbookEvent) -> None:
        """The runbook's event sink, for workers."""

    def log_line(self, text: str, level: str = "info", journal_it: bool = True) -> None:
        """A line in the Log and, unless the runbook journals it itself, in the campaign's
        event log (from the app's thread)."""
