"""Messages from the workers to the app: one class per kind of library event, plus the
end of a piece of work and a line for the Log.

The worker folds each event into `Live` before posting its message (`post_message` is
thread-safe), so a message only says that something changed and, when it is worth one,
carries the Log's line. A message without a line can be replaced by a newer one of its
kind (`can_replace`): a copy of 5,000 datasets posts 5,000 "verified" events, and the
queue, which key presses share, never holds more than a handful.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from logcache.copy.events import CopyFinished, CopyPlanned, CopyProgress, DatasetConflict, DatasetFailed, DatasetVerified
from logcache.discover.footers import DiscoverProgress
from logcache.runbook.events import FailedPathFound, HookOutput, Notice, StepEnded, StepStarted
from logcache.validation.orchestrate import ParcelUpdate


class LibraryEvent(Message):
    """Base of the messages that carry one library event, already folded into `Live`;
    `line` is for the Log, or None."""

    def __init__(self, event: Any, line: str | None = None) -> None:
        super().__init__()
        self.event, self.line = event, line

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self) and self.line is None and isinstance(message, LibraryEvent) and message.line is None


class CopyPlannedMessage(LibraryEvent):
    event: CopyPlanned


class CopyProgressed(LibraryEvent):
    event: CopyProgress


class DatasetVerifiedMessage(LibraryEvent):
    event: DatasetVerified


class DatasetFailedMessage(LibraryEvent):
    event: DatasetFailed


class DatasetConflictMessage(LibraryEvent):
    event: DatasetConflict


class CopyFinishedMessage(LibraryEvent):
    event: CopyFinished


class DiscoverProgressed(LibraryEvent):
    event: DiscoverProgress


class ParcelUpdated(LibraryEvent):
    event: ParcelUpdate

    def can_replace(self, message: Message) -> bool:
        # Only a newer update of the same parcel: a status change carries a line, and
        # is never dropped.
        return super().can_replace(message) and isinstance(message, ParcelUpdated) and message.event.label == self.event.label


class StepStartedMessage(LibraryEvent):
    event: StepStarted


class StepEndedMessage(LibraryEvent):
    event: StepEnded


class FailedPathFoundMessage(LibraryEvent):
    event: FailedPathFound


class HookOutputMessage(LibraryEvent):
    event: HookOutput


class NoticeMessage(LibraryEvent):
    event: Notice


class UnknownEvent(LibraryEvent):
    """An event kind this app does not know yet: logged, never lost silently."""


MESSAGE_OF: dict[type, type[LibraryEvent]] = {
    CopyPlanned: CopyPlannedMessage,
    CopyProgress: CopyProgressed,
    DatasetVerified: DatasetVerifiedMessage,
    DatasetFailed: DatasetFailedMessage,
    DatasetConflict: DatasetConflictMessage,
    CopyFinished: CopyFinishedMessage,
    DiscoverProgress: DiscoverProgressed,
    ParcelUpdate: ParcelUpdated,
    StepStarted: StepStartedMessage,
    StepEnded: StepEndedMessage,
    FailedPathFound: FailedPathFoundMessage,
    HookOutput: HookOutputMessage,
    Notice: NoticeMessage,
}


def message_for(event: Any, line: str | None) -> LibraryEvent:
    kind = MESSAGE_OF.get(type(event), UnknownEvent)
    if kind is UnknownEvent and line is None:
        line = f"event: {type(event).__name__}"
    return kind(event, line)


class WorkEnded(Message):
    """A piece of work started through the gate finished; `error` is one line or ""."""

    def __init__(self, what: str, error: str, long: bool, elapsed_s: float) -> None:
        super().__init__()
        self.what, self.error, self.long, self.elapsed_s = what, error, long, elapsed_s


class LogLine(Message):
    """A line for the Log, from a worker thread."""

    def __init__(self, text: str, level: str = "info") -> None:
        super().__init__()
        self.text, self.level = text, level
