"""Runbook step 1: choose the nightly run whose cache is refreshed."""

from __future__ import annotations

import threading

from logcache.campaign import Campaign
from logcache.catalog import Transaction, pick_transaction
from logcache.runbook.events import EventSink, ignore
from logcache.runbook.journaling import journaled
from logcache.runbook.lifecycle import Done, run_step, stop_if_cancelled
from logcache.runbook.queries import transactions
from state.model import StepName


def run(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None, transaction_id: str | None = None) -> Transaction:
    """Choose the nightly run (default: the latest succeeded one). An unknown id is
    refused before the checklist changes."""
    on_event = journaled(campaign, on_event)
    tx = pick_transaction(transactions(campaign), transaction_id)
    stop_if_cancelled(cancel)

    def work() -> Done[Transaction]:
        if campaign.state.transaction_id not in (None, tx.id):
            campaign.state.reset_from(StepName.DISCOVER)
            campaign.state.datasets = []
            forget_hook_outputs(campaign)
        campaign.state.transaction_id = tx.id
        return Done(tx, f"{tx.id} ({tx.status}, finished {tx.finished_at})")

    return run_step(campaign, StepName.PICK_TRANSACTION, work, on_event)


def forget_hook_outputs(campaign: Campaign) -> None:
    """Another refresh's branch, PR and image are not this one's: the steps that made them
    run again."""
    state = campaign.state
    state.registry_branch = state.pr_url = state.image_tag = None


def chosen_transaction(campaign: Campaign, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> Transaction:
    if campaign.state.transaction_id is None:
        return run(campaign, on_event, cancel)
    return pick_transaction(transactions(campaign), campaign.state.transaction_id)
