"""A campaign opened for work: its config, its state, the lock and the debounced saver.

Every command that changes the state opens the campaign through `open_campaign`, so the
lock is always taken before anything is written and released on any exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from state.config import CampaignConfig, load_config
from state.debounce import DebouncedSaver
from state.errors import LogcacheError
from state.lock import CampaignLock, Holder, read_holder
from state.model import CampaignState
from state.persist import load_or_new, render_state


@dataclass
class Campaign:
    config: CampaignConfig
    state: CampaignState
    saver: DebouncedSaver | None
    lock: CampaignLock | None

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


def lock_path(config: CampaignConfig) -> Path:
    return config.path.with_name(config.path.stem + ".lock")


def lock_holder(config: CampaignConfig) -> Holder | None:
    return read_holder(lock_path(config))


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
    `adjust` overrides settings for this command only (`--profile`, `--endpoint-url`)."""
    config = load_config(path)
    if adjust is not None:
        config = adjust(config)
    if not write:
        yield Campaign(config, load_or_new(config.state_path, config.name), None, None)
        return
    lock = CampaignLock(lock_path(config))
    message = lock.acquire(break_lock)
    refused = wrote = False
    try:
        if message and notice:
            notice(message)
        state = load_or_new(config.state_path, config.name)
        loaded = render_state(state)
        saver = DebouncedSaver(config.state_path)
        campaign = Campaign(config, state, saver, lock)
        try:
            yield campaign
        finally:
            saver.close()
            # A command that changed nothing (or failed before changing anything) leaves
            # the file as it was.
            if render_state(campaign.state) != loaded:
                saver.save_now(campaign.state)
                wrote = True
    except LogcacheError as exc:
        refused = exc.exit_code == 2 and not wrote
        raise
    finally:
        # A refused command leaves every file as it was: a lock file it made goes too.
        lock.release(undo=refused)
