"""`logcache run CAMPAIGN`: drive the whole refresh headless, resuming where it stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from logcache.campaign import open_campaign
from logcache.cli.copy import CopyView
from logcache.cli.validate import ValidateView
from logcache.discover.footers import DiscoverProgress
from logcache.runbook.driver import run_campaign
from logcache.progress_render import StatusLine
from logcache.validation.orchestrate import ParcelUpdate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run every automatable step in order, resuming where it stopped")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cancel = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: Any) -> None:
        # First Ctrl-C: stop submitting work and let in-flight copies finish; a second one
        # interrupts at once (the state is still saved on the way out).
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping: letting work in flight finish (Ctrl-C again to stop now)", flush=True)

    signal.signal(signal.SIGINT, on_sigint)
    try:
        status = StatusLine(sys.stdout)
        copy_view, validate_view = CopyView(status), ValidateView(status)

        def on_event(event: Any) -> None:
            if isinstance(event, DiscoverProgress):
                status.status(f"discover: {event.done}/{event.total} datasets ({event.name})")
            elif isinstance(event, ParcelUpdate):
                validate_view.on_event(event)
            else:
                copy_view.on_event(event)

        with open_campaign(args.campaign, break_lock=args.break_lock, notice=status.line) as campaign:
            try:
                outcome = run_campaign(campaign, str(args.campaign), on_event=on_event, cancel=cancel, say=status.line)
            finally:
                status.close()
    finally:
        signal.signal(signal.SIGINT, previous)
    print(outcome.message if outcome.finished else f"stopped at {outcome.stopped_at}: {outcome.message}")
    return 0 if outcome.finished or outcome.stopped_at is not None and "failed" not in outcome.message else 1
