"""The image hook in the runbook on a local demo world: a step that a configured hook does
is not manual (status, `step done`, the driver), and its tag reaches the blocking job
template as `{image}`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.processes import logcache

from logcache.demo import build_world
from state.model import StepName, StepStatus
from state.persist import load_state

IMAGE = """
[image]
command = "echo building {patch} && echo pushed registry.local/etl:local-7"
tag_pattern = "pushed (\\\\S+)"
"""


@pytest.fixture
def world(tmp_path: Path) -> Path:
    build_world(str(tmp_path / "w"), seed=3, scale="tiny")
    return tmp_path / "w"


def test_without_the_hook_build_image_stays_manual(world: Path) -> None:
    result = logcache("run", world / "campaign.toml")
    assert result.returncode == 3 and "stopped at build-image" in result.stdout, result.stdout + result.stderr
    assert "[ ] Build and push the image (manual)" in logcache("status", world / "campaign.toml").stdout


def test_with_the_hook_build_image_is_not_manual_and_step_done_is_refused(world: Path) -> None:
    campaign = world / "campaign.toml"
    campaign.write_text(campaign.read_text() + IMAGE)
    status = logcache("status", campaign).stdout
    assert "[ ] Build and push the image\n" in status and "[ ] Merge the PR (manual)" in status

    refused = logcache("step", "done", campaign, "build-image", "--note", "by hand")

    assert refused.returncode == 2 and refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "build-image is done by its hook" in refused.stderr and "Traceback" not in refused.stderr
    assert not (world / "campaign.state.toml").exists()  # a refused command writes nothing


def test_the_tag_reaches_the_blocking_job_template(world: Path) -> None:
    campaign = world / "campaign.toml"
    job = f"echo {{image}} >> {world / 'images'}; {sys.executable} -m logcache validate {{campaign}} --parcel-count {{parcel_count}} --parcel-id {{parcel_id}} {{args}}"
    text = campaign.read_text().replace('backend = "local"', f'backend = "command"\ntemplate = "{job}"')
    campaign.write_text(text + IMAGE)

    result = logcache("run", campaign)

    assert result.returncode == 3 and "stopped at merge-pr" in result.stdout, result.stdout + result.stderr
    assert "[image] pushed registry.local/etl:local-7" in result.stdout
    state = load_state(world / "campaign.state.toml")
    assert state.step(StepName.BUILD_IMAGE).status is StepStatus.DONE and state.step(StepName.BUILD_IMAGE).note == "registry.local/etl:local-7"
    assert (world / "images").read_text().split() == ["registry.local/etl:local-7"] * len(state.parcels)
    assert len(state.parcels) == 3 and (world / "jobs" / "image.log").exists()


def test_status_json_names_the_image_and_picking_another_run_forgets_it(world: Path) -> None:
    import json

    from logcache.campaign import open_campaign
    from logcache.runbook.queries import transactions
    from logcache.runbook.steps import pick

    campaign = world / "campaign.toml"
    campaign.write_text(campaign.read_text() + IMAGE)
    assert logcache("run", campaign).returncode == 3
    body = json.loads(logcache("status", campaign, "--json").stdout)
    assert (body["image"], body["pr_url"], body["machines_held"]) == ("registry.local/etl:local-7", None, None)
    with open_campaign(campaign) as opened:
        other = next(t for t in transactions(opened) if t.id != opened.state.transaction_id and t.status == "succeeded")
        pick.run(opened, transaction_id=other.id)
        assert opened.state.image_tag is None and opened.state.step(StepName.BUILD_IMAGE).status is StepStatus.PENDING


def test_a_stuck_parcel_is_notified_once(world: Path) -> None:
    from logcache.campaign import open_campaign
    from logcache.runbook.driver import Notifier
    from logcache.runbook.events import Notice, ParcelUpdate
    from state.model import ParcelStatus

    campaign = world / "campaign.toml"
    campaign.write_text(campaign.read_text() + '\n[notify]\ncommand = "echo {event} {message} >> notifications"\n')
    seen: list[object] = []
    with open_campaign(campaign, write=False) as opened:
        relay = Notifier(opened, seen.append).relay
        for status in ("running", "stuck", "stuck", "done"):
            relay(ParcelUpdate("2", "command", "job-9", ParcelStatus(status), "", 1, 4, 0, 0, None, 400.0))
    assert len(seen) == 4 and not any(isinstance(e, Notice) for e in seen)
    (line,) = (world / "notifications").read_text().splitlines()
    assert line.startswith("stuck ") and "parcel 2 is stuck (job job-9" in line


def test_a_pr_hook_using_branch_is_refused_before_it_runs_when_the_registry_is_not_in_git(world: Path) -> None:
    campaign = world / "campaign.toml"
    registry = world / "registry" / "LogCacheEntries.scala"
    before = registry.read_bytes()
    campaign.write_text(
        campaign.read_text().replace('format = "scala"\n', 'format = "scala"\npr_command = "echo https://example.com/pr/1 {branch}"\n')
        + "[run]\nconfirm = false\n"  # headless on purpose: the refusal under test comes from the step
    )

    result = logcache("run", campaign)

    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stdout + result.stderr
    assert "pr_command uses {branch}" in result.stderr and "not in a git work tree" in result.stderr
    assert registry.read_bytes() == before and not (world / "jobs" / "pr.log").exists()
    assert load_state(world / "campaign.state.toml").step(StepName.REGISTRY_EXPORT).status is StepStatus.PENDING


def test_an_image_hook_using_branch_is_refused_before_it_runs_when_no_branch_holds_the_patch(world: Path) -> None:
    campaign = world / "campaign.toml"
    campaign.write_text(campaign.read_text() + IMAGE.replace("building {patch}", "building {branch}"))

    result = logcache("run", campaign)

    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stdout + result.stderr
    assert "[image] command uses {branch}" in result.stderr and not (world / "jobs" / "image.log").exists()
    state = load_state(world / "campaign.state.toml")
    assert state.step(StepName.REGISTRY_EXPORT).status is StepStatus.DONE and state.step(StepName.BUILD_IMAGE).status is StepStatus.PENDING
