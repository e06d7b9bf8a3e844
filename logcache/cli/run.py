"""`logcache run CAMPAIGN`: drive the whole refresh headless, resuming where it stopped.

Exit codes: 0 every step done, 1 a step did not reach its goal, 3 stopped at a manual
step (do it, confirm it with `logcache step done`, run again) or at the operator's "no"
to the run's question, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from logcache.cli.common import Exit, SubParsers, add_worker_memory, campaign_command, graceful_stop, open_for, print_json, status_line
from logcache.cli.copy import CopyView
from logcache.cli.validate import ValidateView
from logcache.errors import UsageError
from logcache.progress_render import StatusLine
from logcache.runbook.confirm import Confirm, costly_steps
from logcache.runbook.driver import Stop, run_campaign
from logcache.runbook.events import (
    CopyFinished,
    CopyPlanned,
    CopyProgress,
    DatasetConflict,
    DatasetFailed,
    DatasetVerified,
    DiscoverProgress,
    FailedPathFound,
    HookOutput,
    Notice,
    ParcelUpdate,
    RunbookEvent,
    StepEnded,
    StepStarted,
)

# A "no" to the run's question stops it for the operator, like a manual step: nothing is
# wrong, and running again asks again.
EXITS = {Stop.FINISHED: Exit.DONE, Stop.FAILED: Exit.FINDINGS, Stop.MANUAL: Exit.MANUAL, Stop.DECLINED: Exit.MANUAL}


def register(sub: SubParsers) -> None:
    p = campaign_command(
        sub,
        "run",
        help="run every automatable step in order, resuming where it stopped",
        description=(
            "Run every automatable step in order, skipping what is done. Stops at a manual step "
            "(exit 3) or at a step whose goal was not reached (exit 1); 0 when every step is done."
        ),
        json_output="the outcome",
        s3=True,
    )
    add_worker_memory(p)
    p.add_argument(
        "--yes", action="store_true", help="do not ask before the first hook that costs or publishes (validation jobs, machines, the PR)"
    )
    p.set_defaults(func=run)


class RunView:
    """Every runbook event as a line or the status line."""

    def __init__(self, status: StatusLine) -> None:
        self.status = status
        self.copy = CopyView(status)
        self.validate = ValidateView(status)

    def on_event(self, event: RunbookEvent) -> None:
        match event:
            case StepStarted(step=step):
                self.status.line(f"-> {step.value}")
            case StepEnded(status=status, note=note):
                self.status.line(f"   {status.value}: {note}")
            case DiscoverProgress(done=done, total=total, name=name):
                self.status.status(f"discover: {done}/{total} datasets ({name})")
            case ParcelUpdate():
                self.validate.on_event(event)
            case HookOutput(hook=hook, line=line):
                self.status.line(f"   [{hook}] {line}")
            case Notice(text=text):
                self.status.line(f"   note: {text}")
            case CopyPlanned() | CopyProgress() | DatasetVerified() | DatasetFailed() | DatasetConflict():
                self.copy.on_event(event)
            case FailedPathFound() | CopyFinished():
                pass  # the step's note and `logcache failures` say these


def _confirm(args: argparse.Namespace, status: StatusLine) -> Confirm | None:
    """How this run asks before its first hook that costs or publishes: on a terminal, a
    y/N question; with `--yes` or `[run] confirm = false`, not at all. Without a terminal
    a run that would need to ask is refused before anything is written."""
    with open_for(args, None, write=False) as campaign:
        if args.yes or not campaign.config.confirm_run:
            return None
        costly = costly_steps(campaign)
    if not sys.stdin.isatty():
        if costly:
            steps = ", ".join(s.value for s in costly)
            raise UsageError(
                f"this run reaches hooks that cost or publish ({steps}) and there is no terminal to ask; "
                "run it with --yes, or set [run] confirm = false in the campaign file"
            )
        return None

    def ask(question: str) -> bool:
        status.line(question)
        sys.stderr.write("go on? [y/N] ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return ask


def run(args: argparse.Namespace) -> int:
    status = status_line(args)
    view = RunView(status)
    confirm = _confirm(args, status)
    with graceful_stop(status.line) as cancel, open_for(args, status.line) as campaign:
        try:
            outcome = run_campaign(campaign, str(args.campaign), on_event=view.on_event, cancel=cancel, confirm=confirm)
        finally:
            status.close()
    code = EXITS[outcome.stop]
    if args.json:
        print_json({"stop": outcome.stop.value, "step": outcome.stopped_at, "message": outcome.message, "exit_code": int(code)})
    else:
        status.result(outcome.message if outcome.finished else f"stopped at {outcome.stopped_at}: {outcome.message}")
    return code
