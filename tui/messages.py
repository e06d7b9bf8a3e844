"""Messages from the workers to the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from logcache.copy import CopyProgress
from logcache.discover.footers import DiscoverProgress
from logcache.validation.orchestrate import ParcelUpdate


def _progress_key(event: Any) -> str | None:
    """Events that only restate progress: a newer one of the same key makes an older one
    pointless, so a busy worker never floods the queue."""
    if isinstance(event, CopyProgress):
        return "copy"
    if isinstance(event, DiscoverProgress):
        return "discover"
    if isinstance(event, ParcelUpdate):
        return f"parcel:{event.label}:{event.status}"
    return None


class EngineEvent(Message):
    """One event from the library, posted from a worker thread."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        key = _progress_key(self.event)
        return key is not None and isinstance(message, EngineEvent) and _progress_key(message.event) == key


class StepEnded(Message):
    """A worker finished (or failed) a piece of work; `error` is one line or ""."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what, self.error = what, error
