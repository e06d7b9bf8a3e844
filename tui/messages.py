"""Messages from the workers to the app: one class per kind of library event, plus the
end of a piece of work and a line for the Log.

Workers post these from their threads (`post_message` is thread-safe). Progress messages
set `can_replace`: a newer one makes an older queued one pointless, so a fast worker
cannot flood the queue however many datasets the campaign has.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from logcache.copy.events import CopyFinished, CopyPlanned, CopyProgress, DatasetConflict, DatasetFailed, DatasetVerified
from logcache.discover.footers import DiscoverProgress
from logcache.validation.orchestrate import ParcelUpdate


class LibraryEvent(Message):
    """Base of the messages that carry one library event; the app folds `event`."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class CopyPlannedMessage(LibraryEvent):
    event: CopyPlanned


class CopyProgressed(LibraryEvent):
    event: CopyProgress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CopyProgressed)


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

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DiscoverProgressed)


class ParcelUpdated(LibraryEvent):
    event: ParcelUpdate

    def can_replace(self, message: Message) -> bool:
        # Only a newer update of the same parcel in the same status: a status change is
        # logged, so it is never dropped.
        return isinstance(message, ParcelUpdated) and (message.event.label, message.event.status) == (self.event.label, self.event.status)


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
}


def message_for(event: Any) -> LibraryEvent:
    return MESSAGE_OF.get(type(event), UnknownEvent)(event)


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
