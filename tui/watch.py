"""What a read-only session follows of the campaign another session drives, polled
cheaply on a timer: the lock (who drives, and whether they are gone), the event journal
(new lines only, from a byte offset), and the state file (read again only when its stamp
changed, at most once every `RELOAD_EVERY_S`, and never more than a quarter of the time:
a 20,000-dataset state takes a few hundred milliseconds to parse). An idle poll is two
stats, one small read and a signal-0 probe.

When the driver is gone (it released the lock, or its pid is gone on this host) the
session takes the lock over (`Campaign.try_take_over`); a lock held from another host is
never taken by guessing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from textual.message import Message

from logcache.campaign import Campaign
from logcache.runbook import journal
from logcache.runbook.journal import JournalEntry
from state.lock import LockState, LockStatus

POLL_S = 0.5
RELOAD_EVERY_S = 1.0


@dataclass
class Poll:
    """One poll's news: new journal lines, whether the state was read again, who holds
    the lock, and whether this session took it over (with the lock's notices)."""

    lock: LockStatus
    entries: list[JournalEntry] = field(default_factory=list)
    reloaded: bool = False
    took_over: bool = False
    notices: list[str] = field(default_factory=list)
    # Who holds the lock after a take-over that failed (someone was quicker).
    held_by: LockStatus | None = None


class Watched(Message):
    """A poll's news, from the watcher's thread to the app."""

    def __init__(self, poll: Poll) -> None:
        super().__init__()
        self.poll = poll


class Watcher:
    """The read-only session's follower; `poll` runs in a worker thread, one at a time."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        # Lines written before this session opened come from `journal.recent`.
        self.offset = journal.journal_size(campaign.config.work_dir)
        self._reloaded_at = time.monotonic()
        self._reload_every_s = RELOAD_EVERY_S

    def poll(self, now: float | None = None) -> Poll:
        campaign = self.campaign
        now = time.monotonic() if now is None else now
        news = Poll(campaign.lock_status())
        news.entries, self.offset = journal.read_since(campaign.config.work_dir, self.offset)
        if news.lock.state in (LockState.FREE, LockState.DEAD):
            news.took_over = campaign.try_take_over(news.notices.append)
            if news.took_over:
                news.reloaded = True  # the take-over read the state afresh
                return news
            news.held_by = campaign.lock_status()
        if now - self._reloaded_at >= self._reload_every_s:
            started = time.monotonic()
            if campaign.reload_state_if_changed():
                self._reloaded_at = now
                # A parse that takes long (a large state) is paid at most a quarter of
                # the time, whatever the driver's save rate.
                self._reload_every_s = max(RELOAD_EVERY_S, 4 * (time.monotonic() - started))
                news.reloaded = True
        return news
