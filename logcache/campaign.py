"""A campaign opened for work: its config, its state, the lock and the debounced saver.

Every command that changes the state opens the campaign through `open_campaign`, so the
lock is always taken before anything is written and released on any exit. A campaign
that no driver runs never claims work is running: when a driver closes it, and when one
opens it after a driver that died, steps left running are pending again and parcels
left running on this machine are interrupted (`CampaignState.settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from state.config import CampaignConfig, load_config
from state.debounce import DebouncedSaver
from state.errors import LogcacheError, StateError
from state.lock import CampaignLock, LockStatus, lock_status
from state.model import CampaignState, ParcelState
from state.persist import Stamp, load_or_new, render_state, state_stamp


@dataclass
class Campaign:
    config: CampaignConfig
    state: CampaignState
    saver: DebouncedSaver | None
    lock: CampaignLock | None
    # The state file as this session last read or wrote it: what a close compares against
    # (a command that changed nothing leaves the file as it was) and what a watcher polls.
    loaded: bytes = field(default=b"", repr=False)
    stamp: Stamp | None = None

    @property
    def read_only(self) -> bool:
        return self.saver is None

    def mark(self) -> None:
        """Progress changed: saved within about a second, however often this is called."""
        if self.saver:
            self.saver.mark(self.state)

    def save(self) -> None:
        """A milestone: saved now."""
        if self.saver:
            self.saver.save_now(self.state)

    def detached(self, parcel: ParcelState) -> bool:
        return runs_detached(self.config, parcel)

    def lock_status(self) -> LockStatus:
        """Who holds the campaign's lock now (cheap enough to poll)."""
        return lock_status(lock_path(self.config))

    def reload_state_if_changed(self) -> bool:
        """A read-only session's view of the driver's saves: the state is read again only
        when the file changed (one stat otherwise). True if it was."""
        stamp = state_stamp(self.config.state_path)
        if stamp == self.stamp:
            return False
        self.state = load_or_new(self.config.state_path, self.config.name)
        self.stamp = stamp
        return True

    def try_take_over(self, notice: Callable[[str], None] | None = None) -> bool:
        """A read-only session becomes the driver: take the lock (never one held by a live
        process, nor one from another host), read the state afresh and settle what its
        last driver left running. False, and nothing changed, when the lock is not free."""
        if not self.read_only:
            return True
        lock = CampaignLock(lock_path(self.config))
        try:
            message = lock.acquire()
        except StateError:
            return False
        try:
            state = load_or_new(self.config.state_path, self.config.name)
        except LogcacheError:
            lock.release(undo=True)
            return False
        if message and notice:
            notice(message)
        self.state, self.lock = state, lock
        self.loaded, self.stamp = render_state(state), state_stamp(self.config.state_path)
        self.saver = DebouncedSaver(self.config.state_path)
        if state.settle(self.detached):
            self.save()
        return True

    def close(self) -> bool:
        """The end of a writable session: pending saves written, and nothing left marked
        running that nothing runs. True if the file was written."""
        saver, self.saver = self.saver, None
        if saver is None:
            return False
        # From here the session writes nothing more: a worker thread that outlives it by a
        # moment (a unit in hand at a quit) must not save a parcel "running" over the
        # settled state.
        saver.close()
        self.state.settle(self.detached)
        # A command that changed nothing (or failed before changing anything) leaves the
        # file as it was.
        if render_state(self.state) == self.loaded:
            return False
        saver.save_now(self.state)
        return True


def runs_detached(config: CampaignConfig, parcel: ParcelState) -> bool:
    """Whether `parcel` may run on without its driver: a job of the command backend (the
    asynchronous submitter's, or one a blocking template handed to a cluster), which the
    next session follows by its job id and heartbeat, stuck once the heartbeat stops.
    The local and Dask backends' work dies with the process that started it."""
    return parcel.backend == "command" and bool(parcel.job_id)


def lock_path(config: CampaignConfig) -> Path:
    return config.path.with_name(config.path.stem + ".lock")


@contextmanager
def open_campaign(
    path: Path,
    *,
    write: bool = True,
    break_lock: bool = False,
    notice: Callable[[str], None] | None = None,
    adjust: Callable[[CampaignConfig], CampaignConfig] | None = None,
) -> Iterator[Campaign]:
    """The campaign at `path`, locked for writing (or read-only with `write=False`);
    `adjust` overrides settings for this command only (`--profile`, `--endpoint-url`).
    A read-only campaign that took the lock over (`Campaign.try_take_over`) is closed
    like a writable one."""
    config = load_config(path)
    if adjust is not None:
        config = adjust(config)
    lock: CampaignLock | None = None
    refused = wrote = False
    try:
        if write:
            lock = CampaignLock(lock_path(config))
            message = lock.acquire(break_lock)
            if message and notice:
                notice(message)
        stamp = state_stamp(config.state_path)
        state = load_or_new(config.state_path, config.name)
        saver = DebouncedSaver(config.state_path) if write else None
        # Settled before the snapshot: the file gets the settled state with this
        # command's first change, and a refused command still writes nothing.
        if write:
            state.settle(lambda parcel: runs_detached(config, parcel))
        # Rendered only for a writer: a large state takes seconds to render.
        campaign = Campaign(config, state, saver, lock, render_state(state) if write else b"", stamp)
        try:
            yield campaign
        finally:
            try:
                wrote = campaign.close()
            finally:
                lock = campaign.lock
    except LogcacheError as exc:
        refused = exc.exit_code == 2 and not wrote
        raise
    finally:
        # A refused command leaves every file as it was: a lock file it made goes too.
        if lock is not None:
            lock.release(undo=refused)
