"""Runbook step 6: `cache-validations.parquet`, its summary, and the reports to attach
(`cache-validations.html`, `cache-validations.junit.xml`); the step is done only when
every row is valid."""

from __future__ import annotations

import threading

from logcache.campaign import Campaign
from logcache.runbook.events import EventSink, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, StepFailed, run_step, stop_if_cancelled
from logcache.runbook.next_actions import next_actions
from logcache.runbook.queries import entries, exclusions
from logcache.stores import open_results
from logcache.validation.aggregate import Aggregate, aggregate
from logcache.validation.report import write_reports
from state.model import StepName


def run(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> Aggregate:
    on_event = journaled(campaign, on_event)
    def work() -> Done[Aggregate]:
        stop_if_cancelled(cancel)
        config = campaign.config
        result = aggregate(entries(campaign), open_results(config), config.work_dir, campaign.state.excluded())
        write_reports(config.work_dir, config.name, result, exclusions(campaign.state))
        campaign.state.aggregate = result.summary
        s = result.summary
        if not s.all_valid:
            kinds = ", ".join(f"{k.kind}: {k.count}" for k in s.by_error_kind)
            todo = next_actions(campaign.config, campaign.state, entries(campaign), result.rows, "CAMPAIGN")
            nxt = f"next: {todo[0].command}" if todo else "see `logcache failures`"
            raise StepFailed(f"{s.invalid} of {s.rows} rows invalid, {s.not_checked} not checked ({kinds})", result, fix=nxt)
        left_out = f", {s.excluded} excluded from the patch" if s.excluded else ""
        return Done(result, f"all {s.rows - s.excluded} rows valid{left_out} -> {s.path}")

    return run_step(campaign, StepName.AGGREGATE, work, on_event)
