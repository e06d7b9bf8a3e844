"""`logcache copy CAMPAIGN`: copy every cached prefix ephemeral -> permanent, verified."""

from __future__ import annotations

import argparse
import sys
import threading

from logcache.cli.common import Exit, SubParsers, add_names, campaign_command, graceful_stop, open_for, print_json, status_line
from logcache.copy import CopyReport, DatasetStatus
from logcache.errors import UsageError
from logcache.progress_render import StatusLine, bar, human_bytes, human_duration
from logcache.runbook import queries
from logcache.runbook.events import CopyPlanned, CopyProgress, DatasetConflict, DatasetFailed, DatasetVerified, RunbookEvent
from logcache.runbook.lifecycle import StepFailed, StepInterrupted
from logcache.runbook.steps import copy


def register(sub: SubParsers) -> None:
    p = campaign_command(
        sub,
        "copy",
        help="copy every cached prefix to the permanent bucket, verified (runbook step 3)",
        description=(
            "Copy each dataset's prefix from the source (ephemeral) to the destination (permanent), "
            "server-side on S3, skipping objects already there, and verify every prefix. "
            "Safe to rerun: an interrupted copy resumes where it stopped."
        ),
        json_output="the final report",
        s3=True,
    )
    add_names(p, "--only", "copy only these (repeatable): <shard>/<kind>, a shard, a cache id, or a URL from a missing-path error")
    p.add_argument("--concurrency", type=int, metavar="N", help="copies in flight (default: [copy] concurrency, 64)")
    p.add_argument("--dry-run", action="store_true", help="list and plan only; write nothing")
    p.add_argument("--overwrite", action="store_true", help="replace destination objects that differ from the source")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, not {args.concurrency}")
    view = CopyView(status_line(args))
    with graceful_stop(view.status.line) as cancel:
        try:
            report = _dry_run(args, view) if args.dry_run else _copy(args, view, cancel)
        finally:
            view.status.close()
    view.summary(report)
    if args.json:
        print_json(report.to_json())
    if report.interrupted:
        print("logcache: interrupted; run the same command again to resume", file=sys.stderr)
        return Exit.INTERRUPTED
    return Exit.DONE if report.ok else Exit.FINDINGS


def _dry_run(args: argparse.Namespace, view: CopyView) -> CopyReport:
    """Plan only: reads the campaign without taking its lock, so it works while another
    operator drives it."""
    with open_for(args, write=False) as campaign:
        return queries.plan_copy(campaign, args.only, view.on_event, args.concurrency, args.overwrite or None)


def _copy(args: argparse.Namespace, view: CopyView, cancel: threading.Event) -> CopyReport:
    """The copy step; a copy that fails some datasets or is interrupted still returns its
    report, for the summary and the exit code."""
    with open_for(args, view.status.line) as campaign:
        try:
            return copy.run(
                campaign,
                only=args.only,
                on_event=view.on_event,
                cancel=cancel,
                concurrency=args.concurrency,
                overwrite=args.overwrite or None,
            )
        except (StepFailed, StepInterrupted) as stopped:
            if not isinstance(stopped.result, CopyReport):
                raise
            return stopped.result


class CopyView:
    """Renders copy events as a progress bar on a TTY, plain lines otherwise."""

    def __init__(self, status: StatusLine) -> None:
        self.status = status

    def on_event(self, event: RunbookEvent) -> None:
        if isinstance(event, CopyPlanned):
            self._planned(event)
        elif isinstance(event, CopyProgress):
            if event.objects_total:
                self.status.status(progress_text(event, self.status.live))
        elif isinstance(event, DatasetVerified):
            if not self.status.live or self.status.verbose:
                self.status.line(f"verified {event.name} ({event.objects:,} objects, {human_bytes(event.bytes)})")
        elif isinstance(event, DatasetFailed):
            self.status.line(f"FAILED {event.name}: {event.reason}")
        elif isinstance(event, DatasetConflict):
            action = "overwriting them" if event.overwritten else "left untouched; rerun with --overwrite to replace them"
            first = event.conflicts[0]
            self.status.line(
                f"CONFLICT {event.name}: {len(event.conflicts)} objects differ at the destination ({action}), "
                f"e.g. {first.destination_url} has {first.destination_size:,} bytes, the source {first.source_size:,}"
            )

    def _planned(self, plan: CopyPlanned) -> None:
        present = sum(d.objects_present for d in plan.datasets)
        conflicts = sum(d.conflicts for d in plan.datasets)
        self.status.line(
            f"{'dry run: ' if plan.dry_run else ''}{len(plan.datasets)} datasets listed, {plan.objects:,} objects "
            f"({human_bytes(plan.bytes)}): {present:,} already at the destination, "
            f"{plan.objects_to_copy:,} to copy ({human_bytes(plan.bytes_to_copy)})"
            + (f", {conflicts:,} conflicting" if conflicts else "")
        )

    def summary(self, report: CopyReport) -> None:
        line = self.status.result
        if report.dry_run:
            todo = sum(d.objects - d.objects_skipped - len(d.conflicts) for d in report.with_status(DatasetStatus.PLANNED))
            line(f"dry run: nothing written; {todo:,} objects would be copied")
        else:
            rate = report.objects_copied / report.elapsed_s if report.elapsed_s > 0 else 0.0
            line(
                f"copied {report.objects_copied:,} objects ({human_bytes(report.bytes_copied)}), "
                f"skipped {report.objects_skipped:,} already present, in {report.elapsed_s:.1f} s ({rate:,.0f} objects/s)"
            )
            line(f"verified {len(report.with_status(DatasetStatus.VERIFIED))} of {len(report.datasets)} datasets")
        for status in (DatasetStatus.FAILED, DatasetStatus.CONFLICT, DatasetStatus.INTERRUPTED):
            results = report.with_status(status)
            if results:
                line(f"{status.value}: {len(results)} dataset{'' if len(results) == 1 else 's'}")
                for r in results:
                    line(f"  {r.name}" + (f": {r.reason}" if r.reason else ""))


def progress_text(p: CopyProgress, live: bool) -> str:
    fraction = p.objects_done / p.objects_total if p.objects_total else 1.0
    text = (
        f"{p.objects_done:,}/{p.objects_total:,} objects, {human_bytes(p.bytes_done)}/{human_bytes(p.bytes_total)}, "
        f"{p.objects_per_s:,.0f} objects/s, {human_bytes(p.bytes_per_s)}/s, ETA {human_duration(p.eta_s)}"
    )
    return f"copy {bar(fraction)} {text}" if live else f"copy: {fraction:.0%} {text}"
