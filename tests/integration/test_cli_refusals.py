"""Exit codes as real processes: a command refused with exit 2 leaves every file as it
was (state, its .bak, the lock file); `run` exits 1 when a step's goal is not reached
and 3 at a manual step; the registry patch names verified copies only."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from support.processes import logcache

from logcache.campaign import open_campaign
from logcache.copy.events import DatasetStatus
from logcache.demo import build_world
from logcache.runbook import queries
from logcache.runbook.lifecycle import StepFailed
from logcache.runbook.steps import copy, discover, registry_export
from state.model import StepName, StepStatus
from state.persist import load_state

STATE = "campaign.state.toml"


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def assert_refused(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err and needle in err, err
    assert "Error:" not in err, err  # no Python class name in the line


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("refusals") / "w"
    build_world(str(world), seed=3, scale="tiny", faults={"missing-source": 1})
    return world


def fresh(pristine: Path, tmp_path: Path) -> Path:
    world = tmp_path / "w"
    shutil.copytree(pristine, world, symlinks=True)
    return world


def test_discover_of_an_unknown_transaction_on_a_finished_campaign_writes_nothing(pristine: Path, tmp_path: Path) -> None:
    world = fresh(pristine, tmp_path)
    campaign = world / "campaign.toml"
    assert logcache("discover", campaign).returncode == 0
    before = snapshot(world)
    assert_refused(logcache("discover", campaign, "--transaction", "nosuch"), "transaction nosuch is not in the catalog")
    assert snapshot(world) == before
    assert load_state(world / STATE).step(StepName.PICK_TRANSACTION).status is StepStatus.DONE


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["copy", "--only", "raw-nosuch-s0/log"], "no dataset named 'raw-nosuch-s0/log'"), (["copy"], "an s3:// URL needs a bucket"), (["run"], "an s3:// URL needs a bucket")],
    ids=["copy-only-unknown", "copy-bad-url", "run-bad-url"],
)
def test_a_refused_copy_or_run_leaves_every_file_and_takes_no_lock(args: list[str], needle: str, pristine: Path, tmp_path: Path) -> None:
    world = fresh(pristine, tmp_path)
    campaign = world / "campaign.toml"
    assert logcache("discover", campaign).returncode == 0
    (world / "campaign.lock").unlink()
    if "bucket" in needle:  # the destination becomes a malformed URL
        text = campaign.read_text(encoding="utf-8")
        assert 'url = "permanent/cache"' in text
        campaign.write_text(text.replace('url = "permanent/cache"', 'url = "s3://"'), encoding="utf-8")
    before = snapshot(world)
    assert_refused(logcache(args[0], campaign, *args[1:]), needle)
    assert snapshot(world) == before
    assert not (world / "campaign.lock").exists()


def test_run_stops_with_exit_1_when_the_copy_fails_and_exports_no_patch(pristine: Path, tmp_path: Path) -> None:
    world = fresh(pristine, tmp_path)
    result = logcache("run", world / "campaign.toml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stopped at copy: copy failed: 1 datasets not copied" in result.stdout
    state = load_state(world / STATE)
    assert state.step(StepName.COPY).status is StepStatus.FAILED
    assert state.step(StepName.REGISTRY_EXPORT).status is StepStatus.PENDING
    assert not list(world.glob("*.patch")) and state.patch_path is None


def test_the_registry_patch_names_only_verified_copies(pristine: Path, tmp_path: Path) -> None:
    world = fresh(pristine, tmp_path)
    with open_campaign(world / "campaign.toml") as campaign:
        discover.run(campaign)
        with pytest.raises(StepFailed) as copy_failed:
            copy.run(campaign)
        (missing,) = copy_failed.value.result.with_status(DatasetStatus.FAILED)
        with pytest.raises(StepFailed, match="1 datasets are not verified") as export_failed:
            registry_export.run(campaign)
        patch = Path(export_failed.value.result).read_text(encoding="utf-8")
        entry = next(e for e in queries.entries(campaign) if e.name == missing.name)
    assert entry.destination.rsplit("/", 1)[1] not in patch
    assert any(line.startswith("+") and not line.startswith("+++") for line in patch.splitlines())  # the verified copies


def test_run_exits_1_when_the_aggregate_finds_invalid_rows(tmp_path: Path) -> None:
    world = tmp_path / "w"
    build_world(str(world), seed=3, scale="tiny", faults={"corrupt-cache": 1})
    campaign = world / "campaign.toml"
    first = logcache("run", campaign)
    assert first.returncode == 3 and "stopped at build-image" in first.stdout, first.stdout + first.stderr
    assert logcache("step", "done", campaign, "build-image", "--note", "t").returncode == 0
    second = logcache("run", campaign)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "stopped at aggregate: aggregate failed: 1 of" in second.stdout
    assert load_state(world / STATE).step(StepName.AGGREGATE).status is StepStatus.FAILED
