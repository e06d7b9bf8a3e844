"""Messages from the workers to the app: one for every runbook event, plus the end of a
piece of work and a line for the Log.

The worker folds each event into `Live` before posting its message (`post_message` is
thread-safe), so a message only says that something changed and, when it is worth one,
carries the Log's line and a toast. A message with neither can be replaced by a newer
one of its event's type (`can_replace`): a copy of 5,000 datasets posts 5,000
"verified" events, and the queue, which key presses share, never holds more than a
handful. A message that carries a line is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from textual.message import Message

from logcache.runbook.events import ParcelUpdate, RunbookEvent

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True)
class Toast:
    text: str
    title: str
    severity: Severity = "information"


def replace_key(event: RunbookEvent) -> object:
    """What a newer event must share with an older one to supersede it: its type, and
    for a parcel's update its parcel (another parcel's update says something else)."""
    if isinstance(event, ParcelUpdate):
        return (ParcelUpdate, event.label)
    return type(event)


class RunbookMessage(Message):
    """One runbook event, already folded into `Live`; `line` is for the Log and `toast`
    for a notification, or None."""

    def __init__(self, event: RunbookEvent, line: str | None = None, toast: Toast | None = None) -> None:
        super().__init__()
        self.event, self.line, self.toast = event, line, toast

    @property
    def droppable(self) -> bool:
        """Nothing in it but the wake-up: the event is in `Live` already."""
        return self.line is None and self.toast is None

    def can_replace(self, message: Message) -> bool:
        # Textual asks the older message whether the newer one, queued behind it, may
        # take its place.
        return self.droppable and isinstance(message, RunbookMessage) and replace_key(message.event) == replace_key(self.event)


class WorkEnded(Message):
    """A piece of work started through the gate finished; `error` is one line or ""."""

    def __init__(self, what: str, error: str, notify: bool, elapsed_s: float) -> None:
        super().__init__()
        self.what, self.error, self.notify, self.elapsed_s = what, error, notify, elapsed_s


class LogLine(Message):
    """A line for the Log, from a worker thread."""

    def __init__(self, text: str, level: str = "info") -> None:
        super().__init__()
        self.text, self.level = text, level


class Question(Message):
    """Work asks the operator (the run's question before a hook that costs or
    publishes); `answer` gets the reply, on the app's thread, and wakes the work."""

    def __init__(self, text: str, answer: Callable[[bool | None], None]) -> None:
        super().__init__()
        self.text, self.answer = text, answer
