"""Re-copy every failed path's dataset and every dataset whose rows a fresh copy can fix,
from the source with --overwrite (with one automatic retry), then re-validate just those
datasets; what is still broken stays open with its reason, and a row still invalid after
its re-copy is for the operator to exclude (runbook.next_actions)."""

from __future__ import annotations

import threading

from logcache.campaign import Campaign
from logcache.copy.events import CopyReport, DatasetStatus
from logcache.runbook.events import EventSink, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, StepFailed, run_step, stop_if_cancelled
from logcache.runbook.next_actions import ActionKind
from logcache.runbook.queries import actions, pairs_of, recopy_candidates
from logcache.runbook.steps import copy, validate
from logcache.validation import KIND_OF
from logcache.validation.orchestrate import ValidationRun
from state.model import CopyStatus, Resolution, StepName


def run(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> str:
    on_event = journaled(campaign, on_event)
    names = recopy_candidates(campaign)

    def copy_again(only: list[str]) -> CopyReport:
        # A dataset that still fails is a result here, not the end: it stays open below.
        try:
            return copy.run(campaign, on_event, cancel, only=only, overwrite=True, step=None)
        except StepFailed as failed:
            if not isinstance(failed.result, CopyReport):
                raise
            return failed.result

    def work() -> Done[str]:
        stop_if_cancelled(cancel)
        if not names:
            return Done("no failed paths", "no failed paths")
        report = copy_again(names)
        retry = [d.name for d in report.with_status(DatasetStatus.FAILED)]
        if retry:
            copy_again(retry)
        copied = [n for n in names if (ds := campaign.state.dataset(n)) is not None and ds.copy_status is CopyStatus.VERIFIED]
        pairs = pairs_of(campaign, copied)
        if pairs:
            count = min(campaign.config.validation.parcel_count, len(pairs))
            try:
                checked = validate.run(campaign, on_event, cancel, names=pairs, force=True, count=count, prefix="recopy-", step=None)
            except StepFailed as failed:
                if not isinstance(failed.result, ValidationRun):
                    raise
                checked = failed.result
            valid = {f"{r.dataset}/{KIND_OF[r.validation]}" for r in checked.rows if r.is_valid}
            for fp in campaign.state.failed_paths:
                if fp.resolution is Resolution.RECOPIED and fp.dataset_name in valid:
                    fp.resolution = Resolution.REVALIDATED
            campaign.mark()
        still = [fp.url for fp in campaign.state.open_failed_paths()]
        note = f"re-copied and re-validated {len(copied)} datasets"
        if still:
            todo = actions(campaign, "CAMPAIGN")
            nxt = f"or leave them out: {todo[-1].command}" if todo and todo[-1].kind is ActionKind.EXCLUDE else ""
            raise StepFailed(f"{len(still)} failed paths remain after a re-copy and a retry (e.g. {still[0]}); check the source, then run again", note, fix=nxt)
        return Done(note, note)

    return run_step(campaign, StepName.RECOPY_FAILED, work, on_event)
