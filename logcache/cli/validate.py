"""`logcache validate` and `logcache plan`: runbook step 5 in parcels.

Without `--parcel-id`, validate plans the parcels, runs them all on the backend and
records them in the campaign. With `--parcel-id I` it runs that one parcel here and
touches nothing but result files and its heartbeat: the seed's job contract, and what a
command-backend job template calls.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import asdict, replace

from logcache.cli.common import (
    Exit,
    SubParsers,
    add_worker_memory,
    campaign_command,
    graceful_stop,
    open_for,
    print_json,
    status_line,
    with_overrides,
)
from logcache.entries import CSV_NAME, read_entries
from logcache.errors import LogcacheError, UsageError
from logcache.progress_render import StatusLine, human_bytes
from logcache.runbook.lifecycle import StepFailed
from logcache.runbook.steps import validate
from logcache.validation import ResultRow
from logcache.validation.backends.registry import BACKENDS
from logcache.validation.orchestrate import ParcelUpdate, cut_for, plan_parcels
from logcache.validation.orphans import guard_job
from logcache.validation.plan import BALANCES, imbalance, parcel_of, parse_cut
from logcache.validation.predict import ParcelPrediction, forecast
from state.config import CampaignConfig, load_config


def register(sub: SubParsers) -> None:
    p = campaign_command(sub, "validate", help="validate every cache entry in parcels (runbook step 5)", json_output="the result", s3=True)
    _common(p)
    p.add_argument("--parcel-id", type=int, metavar="I", help="run only parcel I here (0-based), as a job would")
    p.add_argument("--backend", choices=BACKENDS, help="where parcels run (default: [validation] backend, local)")
    p.add_argument("--scheduler", metavar="URL", help="the Dask scheduler, tcp://HOST:PORT (backend dask)")
    p.add_argument("--template", metavar="CMD", help="job command with {parcel_id} {parcel_count} {campaign} {args} (backend command)")
    p.add_argument("--workers", type=int, metavar="N", help="local backend: processes (default: cores)")
    p.add_argument("--force", action="store_true", help="validate again pairs that already have a result")
    add_worker_memory(p)
    p.set_defaults(func=run)

    q = campaign_command(
        sub, "plan", help="print the parcel plan: bytes, datoms, predicted duration and peak memory per parcel", lock=False, json_output="the plan"
    )
    _common(q)
    add_worker_memory(q)
    q.set_defaults(func=run_plan)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parcel-count", type=int, metavar="N", help="number of parcels (default: [validation] parcel_count)")
    p.add_argument("--balance", choices=BALANCES, help="size: balance bytes, splitting heavy shards; alphabetical: the seed's shares")
    p.add_argument("--filter-by-name", metavar="D/V,...", type=_names, help="only these <dataset>/<validation> pairs")
    p.add_argument(
        "--entity-partitions", metavar="D/V=N,...", type=_cut,
        help="plan these materialized-entities checks in N partitions each, a task apiece (default with the command backend: those over one job's --worker-memory)",
    )


def _cut(text: str) -> dict[str, int]:
    try:
        return parse_cut(text)
    except UsageError as exc:  # argparse's own one-line usage error, exit 2
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _settings(args: argparse.Namespace, config: CampaignConfig) -> tuple[int, str]:
    # `is None`, not `or`: an explicit --parcel-count 0 is refused, not replaced by the default.
    count = config.validation.parcel_count if args.parcel_count is None else args.parcel_count
    return count, args.balance or config.validation.balance


def run_plan(args: argparse.Namespace) -> int:
    config = with_overrides(args, load_config(args.campaign))
    count, balance = _settings(args, config)
    entries = read_entries(config.work_dir / CSV_NAME)
    cut = cut_for(config, config.validation.backend, entries, args.filter_by_name, args.entity_partitions)
    parcels = plan_parcels(entries, count, balance, args.filter_by_name, cut)
    try:
        predictions, source = forecast(config, entries, parcels) if entries else ([], "")
    except LogcacheError as exc:  # the plan stands without its predictions
        predictions, source = [], f"nothing: {exc.one_line()}"
    by_id = {p.label: p for p in predictions}
    if args.json:
        print_json(
            {
                "balance": balance,
                "parcels": [
                    {"parcel_id": p.parcel_id, "tasks": [t.task_id for t in p.tasks], "bytes": p.bytes}
                    | _prediction_json(by_id.get(str(p.parcel_id)))
                    for p in parcels
                ],
                "imbalance": round(imbalance(parcels), 3),
                "calibration": source,
            }
        )
        return Exit.DONE
    for p in parcels:
        split = sum(t.parts > 1 for t in p.tasks)
        predicted = by_id.get(str(p.parcel_id))
        print(f"parcel {p.parcel_id}: {len(p.tasks)} tasks ({split} sub-tasks), {human_bytes(p.bytes)}{_prediction_text(predicted)}")
    print(f"{balance} balance over {count} parcels: max/mean bytes {imbalance(parcels):.2f}")
    if source:  # on stderr: stdout is the plan, one line per parcel and the balance
        print(f"predictions from {source}", file=sys.stderr)
    return Exit.DONE


def _prediction_json(p: ParcelPrediction | None) -> dict[str, object]:
    if p is None:
        return {}
    return {
        "datoms": p.datoms,
        "predicted_s": round(p.seconds, 3),
        "predicted_peak_bytes": p.peak_memory,
        "machine_hours": None if p.machine_hours is None else round(p.machine_hours, 4),
        "cost": None if p.cost is None else round(p.cost, 4),
    }


def _prediction_text(p: ParcelPrediction | None) -> str:
    if p is None:
        return ""
    text = f", ~{p.datoms:,} datoms, ~{p.seconds:.1f} s, peak ~{human_bytes(p.peak_memory)}"
    if p.machine_hours is not None:
        text += f", {p.machine_hours:.3f} machine-hours"
    if p.cost is not None:
        text += f", cost {p.cost:.2f}"
    return text


def run(args: argparse.Namespace) -> int:
    config = with_overrides(args, load_config(args.campaign))
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {args.workers}")
    overrides = {k: v for k, v in (("scheduler", args.scheduler), ("template", args.template), ("workers", args.workers)) if v is not None}
    if overrides:
        config = replace(config, validation=replace(config.validation, **overrides))
    count, balance = _settings(args, config)
    if args.parcel_id is not None:
        return _run_one(args, config, count, balance)
    view = ValidateView(status_line(args))
    with graceful_stop(view.status.line) as cancel, open_for(args, view.status.line) as campaign:
        campaign.config = config
        try:
            result = validate.run(
                campaign,
                names=args.filter_by_name,
                force=args.force,
                count=count,
                balance=balance,
                backend=args.backend,
                on_event=view.on_event,
                cancel=cancel,
                cut=args.entity_partitions,
            )
        except StepFailed as failed:
            if failed.result is None:
                raise
            result = failed.result
        finally:
            view.status.close()
    failed_jobs = [j for j in result.jobs if not j.ok]
    if args.json:
        print_json(
            {
                "pairs": result.pairs,
                "valid": result.valid,
                "invalid": [asdict(r) for r in result.invalid],
                "not_checked": result.unchecked,
                "not_checked_rows": [asdict(r) for r in result.not_checked],
                "failed_paths": [asdict(f) for f in result.failed_paths],
                "failed_parcels": [{"label": j.label, "error": j.error} for j in failed_jobs],
            }
        )
    else:
        for row in [*result.invalid, *result.not_checked]:
            print(row_line(row))
        for found in result.failed_paths:
            print(f"failed path ({found.origin}, {found.dataset_name}): {found.url}")
        print(f"{result.pairs} pairs: {result.valid} valid, {len(result.invalid)} invalid, {result.unchecked} not checked")
        for job in failed_jobs:
            print(f"parcel {job.label} failed: {job.error}")
    return Exit.FINDINGS if result.invalid or result.unchecked or failed_jobs else Exit.DONE


def _run_one(args: argparse.Namespace, config: CampaignConfig, count: int, balance: str) -> int:
    guard_job()
    parcels = plan_parcels(read_entries(config.work_dir / CSV_NAME), count, balance, args.filter_by_name, args.entity_partitions)
    parcel = parcel_of(parcels, args.parcel_id)
    rows: list[ResultRow] = []

    def show(row: ResultRow) -> None:
        rows.append(row)
        print(row_line(row), flush=True)

    from logcache.validation.parcel import run_parcel  # the data stack: only where a parcel runs here

    outcome = run_parcel(config, parcel, str(parcel.parcel_id), force=args.force, on_row=show)
    print(f"parcel {parcel.parcel_id} of {count}: {outcome.ran} tasks run, {outcome.skipped} already done")
    return 1 if any(not r.is_valid for r in rows) else 0


def row_line(row: ResultRow) -> str:
    name = f"{row.dataset}/{row.validation}"
    if row.is_valid:
        return f"valid   {name} ({row.rows_actual:,} rows)"
    if not row.checked:
        return f"NOT CHECKED {name}: {row.error}"
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

