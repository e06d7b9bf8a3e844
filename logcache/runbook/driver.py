"""`logcache run`: every automatable step in order, skipping what is done, stopping at a
manual step with instructions and at a step whose goal was not reached. The app's
"run all" calls the same function."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from logcache.campaign import Campaign
from logcache.errors import LogcacheError, UsageError
from logcache.hooks import notify as events
from logcache.hooks.notify import notify
from logcache.hooks.runner import HookFailed
from logcache.runbook.checks import check_locations
from logcache.runbook.confirm import Confirm, costly_steps, question
from logcache.runbook.events import EventSink, Notice, ParcelUpdate, RunbookEvent, StepEnded, ignore
from logcache.runbook.journaling import JournalSink, journaled
from logcache.runbook.lifecycle import StepFailed
from logcache.runbook.spec import MANUAL_STEPS, SPECS
from logcache.validation.jobs import release_machines
from state.config import CampaignConfig
from state.model import ParcelStatus, StepName, StepStatus


class Stop(StrEnum):
    """Why a run ended; each has its exit code (`logcache.cli.exits`)."""

    FINISHED = "finished"  # every step done or skipped
    MANUAL = "manual"  # waiting for the operator at a manual step
    FAILED = "failed"  # a step ran but did not reach its goal
    DECLINED = "declined"  # the operator said no to the run's question before a hook that costs or publishes


@dataclass(frozen=True)
class DriverOutcome:
    stop: Stop
    stopped_at: StepName | None
    message: str

    @property
    def finished(self) -> bool:
        return self.stop is Stop.FINISHED


def run_campaign(
    campaign: Campaign,
    campaign_arg: str,
    on_event: EventSink = ignore,
    cancel: threading.Event | None = None,
    confirm: Confirm | None = None,
) -> DriverOutcome:
    """Run the open steps in order. Errors an operator can fix (a bad endpoint, a bad
    argument) propagate as raised, after the step recorded them; a cancel raises
    KeyboardInterrupt once the step in flight has saved its progress. A failed hook ends
    the run like a step whose goal was not reached (the next run retries it). The
    `[notify]` hook hears whenever a human is needed: a manual step, a failure, a stuck
    parcel, every row valid.

    With `confirm`, the run asks it once (`runbook.confirm.question`: the PR's branch,
    the parcels, nodes and predicted cost) before the first step whose hook costs or
    publishes; a "no" ends the run there (DECLINED), that step untouched."""
    check_locations(campaign)
    tell = Notifier(campaign, on_event)
    _release_machines(campaign, tell.journal)
    asked = confirm is None
    for step in campaign.state.steps:
        if cancel is not None and cancel.is_set():
            raise KeyboardInterrupt
        if step.status in (StepStatus.DONE, StepStatus.SKIPPED):
            continue
        spec = SPECS[step.name]
        if spec.manual_for(campaign.config):
            outcome = DriverOutcome(Stop.MANUAL, step.name, manual_hint(campaign, step.name, campaign_arg))
            # The journal is every front end's history: it names the step, not the CLI
            # command that the app's Enter on the step replaces.
            pr = f" (PR: {campaign.state.pr_url})" if step.name is StepName.MERGE_PR and campaign.state.pr_url else ""
            tell(events.MANUAL_STEP, f"waiting at {step.name.value}: {outcome.message}", f"waiting at {step.name.value}, a manual step: {spec.title}{pr}")
            return outcome
        if not asked and step.name in costly_steps(campaign):
            asked = True
            said = question(campaign)
            assert confirm is not None
            if not confirm(said):
                tell.journal(Notice(f"not confirmed: {said}"))
                return DriverOutcome(Stop.DECLINED, step.name, f"not confirmed; nothing ran from {step.name.value} on: run again to be asked again")
        try:
            run_step(campaign, step.name, journaled(campaign, tell.relay), cancel)
        except (StepFailed, HookFailed) as failed:
            outcome = DriverOutcome(Stop.FAILED, step.name, f"{step.name.value} failed: {failed.one_line()}")
            tell(events.FAILURE, outcome.message)
            return outcome
        except LogcacheError as exc:
            tell(events.FAILURE, f"{step.name.value} failed: {exc.one_line()}")
            raise
        if step.name is StepName.AGGREGATE and campaign.state.aggregate is not None and campaign.state.aggregate.all_valid:
            tell(events.ALL_VALID, f"all {campaign.state.aggregate.rows} cache-validations rows are valid")
    return DriverOutcome(Stop.FINISHED, None, "every step is done")


def manual_hint(campaign: Campaign, name: StepName, campaign_arg: str) -> str:
    """What to do at a manual step; the merge names the PR the PR hook opened."""
    hint = SPECS[name].hint(campaign_arg)
    if name is StepName.MERGE_PR and campaign.state.pr_url:
        return f"{hint}   (PR: {campaign.state.pr_url})"
    return hint


class Notifier:
    """Sends `[notify]` events, and relays the run's events, telling of parcels gone stuck
    (once each). A notification that fails is a `Notice`, never the run's failure."""

    def __init__(self, campaign: Campaign, on_event: EventSink) -> None:
        self.campaign = campaign
        self.on_event = on_event
        # The driver's own lines; the steps' events are journaled by the steps.
        self.journal = journaled(campaign, on_event)
        self.stuck: set[str] = set()

    def __call__(self, event: str, message: str, journal_text: str | None = None) -> None:
        if isinstance(self.journal, JournalSink):
            self.journal.write(journal_text or message, "warning" if event in (events.FAILURE, events.STUCK) else "info")
        failed = notify(self.campaign.config, event, message)
        if failed is not None:
            self.journal(Notice(failed))

    def relay(self, event: RunbookEvent) -> None:
        self.on_event(event)
        if isinstance(event, ParcelUpdate) and event.status is ParcelStatus.STUCK and event.label not in self.stuck:
            self.stuck.add(event.label)
            self(events.STUCK, f"parcel {event.label} is stuck (job {event.job_id or 'unknown'}, no heartbeat for {event.heartbeat_age_s} s)")


def _release_machines(campaign: Campaign, on_event: EventSink) -> None:
    """A resumed run first gives back the machines of parcels that ended while holding
    them (the run that followed them died before their scale-down)."""
    config = campaign.config
    if not (config.submitter.submit and config.submitter.scale_down):
        return
    try:
        usage = release_machines(config, on_line=lambda line: on_event(Notice(line)))
    except HookFailed as exc:
        on_event(Notice(f"machines not given back yet: {exc.one_line()}"))
        return
    if usage.holding:
        on_event(Notice(f"parcels {', '.join(usage.holding)} still hold machines (their jobs run)"))


def run_step(campaign: Campaign, name: StepName, on_event: EventSink = ignore, cancel: threading.Event | None = None) -> object:
    """Run one automatable step through its spec's runner (or its configured hook's) and
    return its result; a step that ends failed (its work done but its goal not reached)
    raises StepFailed."""
    spec = SPECS[name]
    runner = spec.runner_for(campaign.config)
    if runner is None:
        raise UsageError(f"{name.value} is a manual step: {spec.hint('CAMPAIGN')}")
    return runner(campaign, on_event, cancel)


def confirm_manual(campaign: Campaign, name: StepName, note: str) -> None:
    """Record a manual step (build the image, merge the PR) as done by this operator."""
    if name not in MANUAL_STEPS:
        raise UsageError(f"{name} is not a manual step; manual steps are {', '.join(sorted(MANUAL_STEPS))}")
    if not SPECS[name].manual_for(campaign.config):
        raise UsageError(f"{name} is done by its hook in this campaign ([image] command); run it with: logcache run CAMPAIGN")
    check_manual_note(campaign.config, name, note)
    campaign.state.finish_step(name, StepStatus.DONE, note=note)
    campaign.save()
    journaled(campaign, ignore)(StepEnded(name, StepStatus.DONE, note))


def check_manual_note(config: CampaignConfig, name: StepName, note: str) -> None:
    """Refuse a manual step's note that cannot be what was done: the image's tag (it
    becomes the validation jobs' `{image}`) matches `[image] tag_pattern` when set, else
    is one word; the merged PR is an http(s) URL. The app asks the same check."""
    if name is StepName.BUILD_IMAGE:
        pattern = config.image.tag_pattern
        if pattern and not re.search(pattern, note):
            raise UsageError(f"the image tag {note!r} does not match [image] tag_pattern {pattern!r}; give the tag that was pushed")
        if not note or note != note.strip() or any(c.isspace() for c in note):
            raise UsageError(f"give the pushed image's tag as --note TAG: one word without spaces, not {note!r}")
    elif name is StepName.MERGE_PR:
        parsed = urlsplit(note)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in note):
            raise UsageError(f"give the merged PR's URL as --note https://...: {note!r} is not an http(s) URL")
