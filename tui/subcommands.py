"""The `tui` and `demo` subcommands of `logcache`: open a campaign in the terminal app,
or build a demo world and open it."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from logcache.demo import build_world
from logcache.demo.lifecycle import rehearse
from logcache.demo.world import SCALES
from logcache.errors import UsageError
from state.config import load_config

# Faults an operator can recover from inside the app (a lost copy: re-copy, re-validate),
# so a rehearsal with --faults still ends "all valid".
REHEARSAL_FAULTS = {"missing-copy": 2}
# What build_world leaves in a demo folder, and nothing else does: --fresh removes only
# folders that hold it.
DEMO_MARKER = "truth.json"


def default_demo_dir() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "logcache" / "demo"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tui", help="open a campaign in the terminal app")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")
    p.set_defaults(func=run_tui)

    d = sub.add_parser("demo", help="build a demo world (once) and open it in the terminal app")
    d.add_argument("dir", nargs="?", type=Path, help=f"where the demo lives (default: {default_demo_dir()})")
    d.add_argument(
        "--faults",
        action="store_true",
        help=f"break two copies on the way, to rehearse the failure flows (default dir: {default_demo_dir().with_name('demo-faults')})",
    )
    d.add_argument("--fresh", action="store_true", help="start over: remove the demo world in DIR and build a new one")
    d.add_argument("--scale", default="tiny", choices=list(SCALES), help="the world's size (default tiny)")
    d.add_argument("--seed", type=int, default=7, help="the world's seed (default 7)")
    d.set_defaults(func=run_demo)


def open_app(campaign: Path, break_lock: bool = False) -> int:
    from tui.app import LogcacheApp

    load_config(campaign)  # a bad campaign file is refused before the screen opens
    try:
        app = LogcacheApp(campaign, break_lock=break_lock)
    except OSError as exc:
        # A folder that cannot be written, a lock path that is a directory: the
        # environment, said in one line.
        where = exc.filename or campaign
        raise UsageError(f"cannot open the campaign: {exc.strerror or exc} ({where}); fix the folder or its permissions") from None
    app.run()
    return app.return_code or 0


def run_tui(args: argparse.Namespace) -> int:
    return open_app(args.campaign, args.break_lock)


def run_demo(args: argparse.Namespace) -> int:
    folder: Path = args.dir or default_demo_dir()
    if args.faults and folder == default_demo_dir():
        folder = folder.with_name("demo-faults")
    campaign = folder / "campaign.toml"
    if args.fresh and campaign.exists():
        if not (folder / DEMO_MARKER).exists():
            raise UsageError(f"{folder} holds a campaign that is not a demo world; --fresh removes demo worlds only")
        shutil.rmtree(folder)
        print(f"removed the demo world in {folder}", flush=True)
    if campaign.exists():
        print(f"resuming the demo in {folder} (--fresh starts over)", flush=True)
    else:
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(f"{folder} is not empty and holds no campaign.toml; pick another DIR")
        print(f"building a demo world in {folder} ...", flush=True)
        build_world(str(folder), seed=args.seed, scale=args.scale, faults=REHEARSAL_FAULTS if args.faults else {})
    # A reopened world rehearses its faults too (the lifecycle rule of `missing-copy`).
    rehearse()
    return open_app(campaign)
