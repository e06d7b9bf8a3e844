"""The runbook's one table of steps: every view of the runbook shows every step of it.

Adding a step is one `StepSpec` and one runner; these tests walk the table and fail when
a view (status text, status JSON, the driver's stops, `step done`) misses a step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logcache.campaign import open_campaign
from logcache.cli import main
from logcache.demo import build_world
from logcache.errors import UsageError
from logcache.runbook import MANUAL_STEPS, RUNBOOK, SPECS
from logcache.runbook.driver import Stop, run_campaign, run_step
from logcache.runbook.lifecycle import StepFailed
from logcache.runbook.status import render_status, status_report
from state.model import StepName, StepStatus


@pytest.fixture
def campaign_file(tmp_path: Path) -> Path:
    build_world(str(tmp_path / "w"), seed=3, scale="tiny")
    return tmp_path / "w" / "campaign.toml"


def test_the_table_holds_every_step_once_in_the_runbook_order() -> None:
    assert [s.name for s in RUNBOOK] == list(StepName)
    for spec in RUNBOOK:
        assert spec.title and spec.short_title and len(spec.short_title) <= 20, spec
        assert "{c}" in spec.next_action, spec
        assert spec.manual == (spec.runner is None)
    assert MANUAL_STEPS == {StepName.BUILD_IMAGE, StepName.MERGE_PR}


def test_status_text_and_json_show_every_step(campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open_campaign(campaign_file, write=False) as campaign:
        text = render_status(status_report(campaign.state, "C"))
    for spec in RUNBOOK:
        assert f"[ ] {spec.title}{' (manual)' if spec.manual else ''}" in text
    assert main(["status", str(campaign_file), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["title"], s["manual"]) for s in body["steps"]] == [(s.name.value, s.title, s.manual) for s in RUNBOOK]


@pytest.mark.parametrize("manual", sorted(MANUAL_STEPS))
def test_the_driver_stops_at_every_manual_step_with_its_hint(campaign_file: Path, manual: StepName) -> None:
    with open_campaign(campaign_file) as campaign:
        for step in campaign.state.steps:
            if step.name == manual:
                break
            campaign.state.finish_step(step.name, StepStatus.DONE, note="done in the test")
        outcome = run_campaign(campaign, "C")
        assert (outcome.stop, outcome.stopped_at) == (Stop.MANUAL, manual)
        assert outcome.message == SPECS[manual].hint("C")
        with pytest.raises(UsageError, match="is a manual step"):
            run_step(campaign, manual)


def test_every_automatable_step_has_a_runner_the_driver_calls(campaign_file: Path) -> None:
    """Run one step after the other through the table: each records itself done."""
    with open_campaign(campaign_file) as campaign:
        for spec in RUNBOOK:
            if spec.manual:
                campaign.state.finish_step(spec.name, StepStatus.DONE, note="by hand")
                continue
            try:
                run_step(campaign, spec.name)
            except StepFailed as failed:
                pytest.fail(f"{spec.name}: {failed}")
            assert campaign.state.step(spec.name).status is StepStatus.DONE, spec.name


def test_step_done_offers_exactly_the_manual_steps(campaign_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["step", "--help"]) == 0
    usage = capsys.readouterr().out
    assert "{" + ",".join(sorted(s.value for s in MANUAL_STEPS)) + "}" in usage
    assert main(["step", "done", str(campaign_file), "discover"]) == 2


def test_the_steps_report_typed_events_and_a_failed_step_carries_its_result(tmp_path: Path) -> None:
    from logcache.runbook.events import CopyPlanned, DatasetFailed, DatasetVerified, FailedPathFound, RunbookEvent, StepEnded, StepStarted
    from state.model import FailedPathOrigin

    build_world(str(tmp_path / "w"), seed=3, scale="tiny", faults={"missing-source": 1})
    seen: list[RunbookEvent] = []
    with open_campaign(tmp_path / "w" / "campaign.toml") as campaign:
        run_step(campaign, StepName.PICK_TRANSACTION, seen.append)
        run_step(campaign, StepName.DISCOVER, seen.append)
        with pytest.raises(StepFailed) as failed:
            run_step(campaign, StepName.COPY, seen.append)
    report = failed.value.result
    assert len(report.datasets) == 36 and failed.value.exit_code == 1
    kinds = [type(e) for e in seen]
    assert kinds[:2] == [StepStarted, StepEnded] and kinds.count(StepStarted) == kinds.count(StepEnded) == 3
    ends = [e for e in seen if isinstance(e, StepEnded)]
    assert [(e.step, e.status) for e in ends] == [
        (StepName.PICK_TRANSACTION, StepStatus.DONE),
        (StepName.DISCOVER, StepStatus.DONE),
        (StepName.COPY, StepStatus.FAILED),
    ]
    assert ends[-1].note == str(failed.value)
    found = [e for e in seen if isinstance(e, FailedPathFound)]
    assert [f.origin for f in found] == [FailedPathOrigin.DISCOVER]  # the copy's failure is the same path: recorded once
    assert CopyPlanned in kinds and kinds.count(DatasetVerified) == 35 and kinds.count(DatasetFailed) == 1


def test_every_automatable_step_stops_on_cancel_and_stays_pending(campaign_file: Path) -> None:
    """A cancel set before a step starts stops it: the step is left pending, to resume,
    never running or done (pick, discover and aggregate included)."""
    import threading

    cancel = threading.Event()
    cancel.set()
    with open_campaign(campaign_file) as campaign:
        for spec in RUNBOOK:
            if spec.manual:
                campaign.state.finish_step(spec.name, StepStatus.DONE, note="by hand")
                continue
            with pytest.raises(KeyboardInterrupt):
                run_step(campaign, spec.name, cancel=cancel)
            assert campaign.state.step(spec.name).status is StepStatus.PENDING, spec.name
            run_step(campaign, spec.name)  # then done, so the next step has its inputs
