"""`logcache validate` and `logcache plan`: runbook step 5 in parcels.

Without `--parcel-id`, validate plans the parcels, runs them all on the backend and
records them in the campaign. With `--parcel-id I` it runs that one parcel here and
touches nothing but result files and its heartbeat: the seed's job contract, and what a
command-backend job template calls.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

from logcache.runbook import steps
from logcache.validation.backends import BACKENDS
from logcache.campaign import open_campaign
from logcache.entries import CSV_NAME, read_entries
from logcache.errors import UsageError
from logcache.validation.orphans import guard_job
from logcache.validation.parcel import run_parcel
from logcache.validation.plan import BALANCES, imbalance, parcel_of
from logcache.progress_render import StatusLine, human_bytes
from logcache.validation.orchestrate import ParcelUpdate, plan_parcels
from logcache.validation import ResultRow
from state.config import CampaignConfig, load_config


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("validate", help="validate every cache entry in parcels (runbook step 5)")
    _common(p)
    p.add_argument("--parcel-id", type=int, metavar="I", help="run only parcel I here (0-based), as a job would")
    p.add_argument("--backend", choices=BACKENDS, help="where parcels run (default: [validation] backend, local)")
    p.add_argument("--scheduler", metavar="URL", help="the Dask scheduler, tcp://HOST:PORT (backend dask)")
    p.add_argument("--template", metavar="CMD", help="job command with {parcel_id} {parcel_count} {campaign} {args} (backend command)")
    p.add_argument("--workers", type=int, metavar="N", help="local backend: processes (default: cores)")
    p.add_argument("--force", action="store_true", help="validate again pairs that already have a result")
    p.add_argument("--break-lock", action="store_true", help="take the campaign over from a session that is gone")
    p.set_defaults(func=run)

    q = sub.add_parser("plan", help="print the parcel plan: bytes per parcel and max/mean")
    _common(q)
    q.set_defaults(func=run_plan)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("campaign", type=Path, help="the campaign file (campaign.toml)")
    p.add_argument("--parcel-count", type=int, metavar="N", help="number of parcels (default: [validation] parcel_count)")
    p.add_argument("--balance", choices=BALANCES, help="size: balance bytes, splitting heavy shards; alphabetical: the seed's shares")
    p.add_argument("--filter-by-name", metavar="D/V,...", type=_names, help="only these <dataset>/<validation> pairs")


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _settings(args: argparse.Namespace, config: CampaignConfig) -> tuple[int, str]:
    # `is None`, not `or`: an explicit --parcel-count 0 is refused, not replaced by the default.
    count = config.validation.parcel_count if args.parcel_count is None else args.parcel_count
    return count, args.balance or config.validation.balance


def run_plan(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    count, balance = _settings(args, config)
    parcels = plan_parcels(read_entries(config.work_dir / CSV_NAME), count, balance, args.filter_by_name)
    for p in parcels:
        split = sum(t.parts > 1 for t in p.tasks)
        print(f"parcel {p.parcel_id}: {len(p.tasks)} tasks ({split} sub-tasks), {human_bytes(p.bytes)}")
    print(f"{balance} balance over {count} parcels: max/mean bytes {imbalance(parcels):.2f}")
    return 0


def run(args: argparse.Namespace) -> int:
    config = load_config(args.campaign)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {args.workers}")
    overrides = {k: v for k, v in (("scheduler", args.scheduler), ("template", args.template), ("workers", args.workers)) if v is not None}
    if overrides:
        config = replace(config, validation=replace(config.validation, **overrides))
    count, balance = _settings(args, config)
    if args.parcel_id is not None:
        return _run_one(args, config, count, balance)
    view = ValidateView(StatusLine(sys.stdout))
    cancel = threading.Event()
    with open_campaign(args.campaign, break_lock=args.break_lock, notice=view.status.line) as campaign:
        campaign.config = config
        try:
            result = steps.run_validate(
                campaign,
                names=args.filter_by_name,
                force=args.force,
                count=count,
                balance=balance,
                backend=args.backend,
                on_event=view.on_event,
                cancel=cancel,
            )
        finally:
            view.status.close()
    for row in result.invalid:
        print(row_line(row))
    for found in result.failed_paths:
        print(f"failed path ({found.origin}, {found.dataset_name}): {found.url}")
    print(f"{result.pairs} pairs checked: {result.pairs - len(result.invalid)} valid, {len(result.invalid)} invalid")
    failed = [j for j in result.jobs if not j.ok]
    for job in failed:
        print(f"parcel {job.label} failed: {job.error}")
    return 1 if result.invalid or failed else 0


def _run_one(args: argparse.Namespace, config: CampaignConfig, count: int, balance: str) -> int:
    guard_job()
    parcels = plan_parcels(read_entries(config.work_dir / CSV_NAME), count, balance, args.filter_by_name)
    parcel = parcel_of(parcels, args.parcel_id)
    rows: list[ResultRow] = []

    def show(row: ResultRow) -> None:
        rows.append(row)
        print(row_line(row), flush=True)

    outcome = run_parcel(config, parcel, str(parcel.parcel_id), force=args.force, on_row=show)
    print(f"parcel {parcel.parcel_id} of {count}: {outcome.ran} tasks run, {outcome.skipped} already done")
    return 1 if any(not r.is_valid for r in rows) else 0


def row_line(row: ResultRow) -> str:
    name = f"{row.dataset}/{row.validation}"
    if row.is_valid:
        return f"valid   {name} ({row.rows_actual:,} rows)"
    return f"INVALID {name}: {row.error_kind}: {row.error}"


class ValidateView:
    """Parcel transitions as lines; overall progress as the status line."""

    def __init__(self, status: StatusLine) -> None:
        self.status = status
        self._parcels: dict[str, ParcelUpdate] = {}

    def on_event(self, update: object) -> None:
        if not isinstance(update, ParcelUpdate):
            return
        before = self._parcels.get(update.label)
        self._parcels[update.label] = update
        if before is None or before.status != update.status:
            where = f"{update.backend} {update.job_id}".strip()
            extra = f": {update.error}" if update.error else ""
            self.status.line(f"parcel {update.label} [{where}]: {update.status} {update.done}/{update.total}{extra}")
        done = sum(p.done for p in self._parcels.values())
        total = sum(p.total for p in self._parcels.values())
        bytes_done = sum(p.bytes_done for p in self._parcels.values())
        bytes_total = sum(p.bytes_total for p in self._parcels.values())
        states = ", ".join(f"{n} {s}" for s, n in sorted(Counter(p.status for p in self._parcels.values()).items()))
        self.status.status(f"validate: {done}/{total} tasks, {human_bytes(bytes_done)}/{human_bytes(bytes_total)}; parcels {states}")

