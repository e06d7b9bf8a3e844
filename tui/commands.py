"""`logcache tui CAMPAIGN` and `logcache demo [DIR] [--faults]`: open the app."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from logcache.demo import build_world
from logcache.errors import UsageError
from state.config import load_config

# Faults an operator can recover from inside the app (a lost copy: re-copy, re-validate),
# so a rehearsal with --faults still ends "all valid".
REHEARSAL_FAULTS = {"missing-copy": 2}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tui", help="open a campaign in the terminal app")
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")
    p.set_defaults(func=run_tui)

    d = sub.add_parser("demo", help="build a demo world (once) and open it in the terminal app")
    d.add_argument("dir", nargs="?", type=Path, help=f"where the demo lives (default: {default_demo_dir()})")
    d.add_argument("--faults", action="store_true", help="break two copies on the way, to rehearse the failure flows")
    d.add_argument("--scale", default="tiny", help="tiny (default) or small, medium, large")
    d.add_argument("--seed", type=int, default=7, help="the world's seed (default 7)")
    d.set_defaults(func=run_demo)


def default_demo_dir() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "logcache" / "demo"


def run_tui(args: argparse.Namespace) -> int:
    from tui.app import LogcacheApp

    load_config(args.campaign)  # a bad campaign file is refused before the screen opens
    LogcacheApp(args.campaign, break_lock=args.break_lock).run()
    return 0


def run_demo(args: argparse.Namespace) -> int:
    folder: Path = args.dir or default_demo_dir()
    if args.faults and folder == default_demo_dir():
        folder = folder.with_name("demo-faults")
    campaign = folder / "campaign.toml"
    if not campaign.exists():
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(f"{folder} is not empty and holds no campaign.toml; pick another DIR")
        print(f"building a demo world in {folder} ...", flush=True)
        build_world(str(folder), seed=args.seed, scale=args.scale, faults=REHEARSAL_FAULTS if args.faults else {})
    return run_tui(argparse.Namespace(campaign=campaign, break_lock=False))
