"""The queue between the workers and the app: progress messages of one event type
collapse, a message that carries a Log line is never dropped."""

from __future__ import annotations

from textual.app import App

from logcache.runbook.events import CopyProgress, DatasetFailed, ParcelUpdate, RunbookEvent
from state.model import ParcelStatus
from tui.messages import RunbookMessage


def progress(done: int) -> CopyProgress:
    return CopyProgress(done, 10, done, 10, 1.0, 1.0, None, 1.0, ())


def parcel(label: str, done: int) -> ParcelUpdate:
    return ParcelUpdate(label, "local", "", ParcelStatus.RUNNING, "t", done, 10, done, 10, None, None)


def test_progress_messages_of_one_type_replace_each_other_but_never_a_log_line() -> None:
    older, newer = RunbookMessage(progress(1)), RunbookMessage(progress(2))
    assert older.can_replace(newer)
    assert not RunbookMessage(progress(1), "a line").can_replace(newer), "a message with a Log line is never dropped"
    assert not older.can_replace(RunbookMessage(DatasetFailed("d", "u", "r"))), "only by a message of its event's type"
    assert RunbookMessage(parcel("0", 1)).can_replace(RunbookMessage(parcel("0", 2)))
    assert not RunbookMessage(parcel("0", 1)).can_replace(RunbookMessage(parcel("1", 2))), "another parcel's update says something else"


class Counting(App[None]):
    """Posts a burst of messages before its queue is read, and records what it handles."""

    def __init__(self, burst: list[RunbookMessage]) -> None:
        super().__init__()
        self.burst = burst
        self.handled: list[tuple[RunbookEvent, str | None]] = []

    def on_mount(self) -> None:
        for message in self.burst:
            self.post_message(message)

    def on_runbook_message(self, message: RunbookMessage) -> None:
        self.handled.append((message.event, message.line))


async def test_queued_progress_collapses_and_every_log_line_is_handled() -> None:
    burst = [
        RunbookMessage(progress(1)),
        RunbookMessage(progress(2)),
        RunbookMessage(progress(3)),
        RunbookMessage(DatasetFailed("a", "u", "r"), "copy failed: a"),
        RunbookMessage(DatasetFailed("b", "u", "r"), "copy failed: b"),
        RunbookMessage(progress(4), "a progress line"),
        RunbookMessage(progress(5)),
        RunbookMessage(parcel("0", 1)),
        RunbookMessage(parcel("1", 1)),
        RunbookMessage(parcel("1", 2)),
    ]
    app = Counting(burst)
    async with app.run_test() as pilot:
        await pilot.pause(0.2)
    assert app.handled == [
        (progress(3), None),
        (DatasetFailed("a", "u", "r"), "copy failed: a"),
        (DatasetFailed("b", "u", "r"), "copy failed: b"),
        (progress(4), "a progress line"),
        (progress(5), None),
        (parcel("0", 1), None),
        (parcel("1", 2), None),
    ]
