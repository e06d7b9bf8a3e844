"""The operator's way through a faulted refresh, through the CLI as subprocesses: from
the first step to a mergeable patch, re-copying what a re-copy fixes and leaving out
what it cannot, with every stop naming the command that moves on."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from support.processes import logcache

from logcache.demo import build_world
from state.model import StepName
from state.persist import load_state


def _truth(root: Path) -> dict:
    return json.loads((root / "truth.json").read_text())


def _fault(root: Path, kind: str) -> str:
    return next(f["entry"] for f in _truth(root)["faults"] if f["kind"] == kind)


def _run_fix(campaign: Path, command: str) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    assert words[0] == "logcache" and "&&" not in words, command
    return logcache(*words[1:])


@pytest.fixture
def world(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    build_world(str(root), seed=11, scale="tiny", faults={"corrupt-cache": 1, "missing-copy": 1, "missing-source": 1})
    return root


def test_a_faulted_demo_reaches_a_mergeable_patch_with_its_exclusions(world: Path) -> None:
    campaign = world / "campaign.toml"
    gone, corrupt, lost = _fault(world, "missing-source"), _fault(world, "corrupt-cache"), _fault(world, "missing-copy")

    # 1. The copy cannot copy a dataset whose source is gone: a re-copy will not help.
    first = logcache("run", campaign)
    assert first.returncode == 1, first.stdout + first.stderr
    status = logcache("status", campaign)
    nxt = next(line for line in status.stdout.splitlines() if line.startswith("next: "))
    assert "registry leave-out" in nxt and gone in nxt, status.stdout
    failures = logcache("failures", campaign)
    assert failures.returncode == 1
    assert f"logcache registry leave-out {campaign} {gone}" in failures.stdout

    # 2. Leave it out; the run goes on to the manual image step.
    assert _run_fix(campaign, nxt.removeprefix("next: ")).returncode == 0
    second = logcache("run", campaign)
    assert second.returncode == 3, second.stdout + second.stderr
    assert logcache("step", "done", campaign, "build-image", "--note", "demo:1").returncode == 0

    # 3. (The copy's rerun found the lost copy gone and copied it again.) Validation finds
    # the corrupt cache; the re-copy step re-copies it with --overwrite and re-validates:
    # its source is corrupt, so it stays invalid, and the run stops at the aggregate
    # naming the fix.
    third = logcache("run", campaign)
    assert third.returncode == 1, third.stdout + third.stderr
    assert "aggregate" in third.stdout and "registry leave-out" in third.stdout
    state = load_state(world / "campaign.state.toml")
    assert state.dataset(corrupt).recopies == 1
    assert "re-copied and re-validated 1 datasets" in third.stdout
    failures = logcache("failures", campaign, "--json")
    assert failures.returncode == 1
    body = json.loads(failures.stdout)
    assert [r["dataset"] for r in body["invalid"]] == [corrupt.split("/")[0]]
    assert isinstance(body["invalid"][0]["sample"], list) and body["invalid"][0]["sample"]
    exclude = [a for a in body["actions"] if a["kind"] == "exclude"]
    assert len(exclude) == 1 and exclude[0]["names"] == [corrupt]
    status = logcache("status", campaign)
    nxt = next(line for line in status.stdout.splitlines() if line.startswith("next: "))
    assert "aggregate" not in nxt and corrupt in nxt, status.stdout

    # 4. Leave it out too: the run re-exports the patch and reaches the merge.
    assert _run_fix(campaign, nxt.removeprefix("next: ")).returncode == 0
    last = logcache("run", campaign)
    assert last.returncode == 3, last.stdout + last.stderr
    assert "merge" in last.stdout
    state = load_state(world / "campaign.state.toml")
    assert {x.name for x in state.exclusions} == {gone, corrupt}
    assert state.aggregate is not None and state.aggregate.all_valid and state.aggregate.excluded == 2
    patch = Path(state.patch_path or "")
    text = patch.read_text()
    assert "Excluded (they keep their previous cache entry):" in text
    assert f"- {gone}: " in text and f"- {corrupt}: " in text
    changed = [line for line in text[text.index("diff --git") :].splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    # The excluded keep their previous entry: no line of theirs changes.
    assert not [line for line in changed if f'"{gone}"' in line or f'"{corrupt}"' in line]
    assert any(f'"{lost}"' in line for line in changed if line.startswith("+"))
    registry = world / "registry"
    check = subprocess.run(["git", "apply", "--check", str(patch)], check=False, cwd=registry, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    shown = logcache("registry", "diff", campaign)
    assert f"- {gone}: " in shown.stderr and f"- {corrupt}: " in shown.stderr and "2 excluded" in shown.stderr


@pytest.mark.parametrize(
    ("step", "note", "refusal"),
    [
        ("build-image", "", "one word without spaces"),
        ("build-image", "quay tag test", "one word without spaces"),
        ("merge-pr", "not a url", "not an http(s) URL"),
        ("merge-pr", "ftp://example.com/pr/1", "not an http(s) URL"),
    ],
)
def test_a_manual_steps_note_that_cannot_be_right_is_refused_and_nothing_written(world: Path, step: str, note: str, refusal: str) -> None:
    campaign = world / "campaign.toml"
    assert logcache("transactions", campaign, "--pick").returncode == 0
    state = world / "campaign.state.toml"
    before = state.read_bytes()
    refused = logcache("step", "done", campaign, step, "--note", note)
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and refusal in refused.stderr
    assert state.read_bytes() == before


def test_a_tag_and_a_pr_url_are_accepted(world: Path) -> None:
    campaign = world / "campaign.toml"
    assert logcache("step", "done", campaign, "build-image", "--note", "quay.io/etl:4f2a9c1").returncode == 0
    assert logcache("step", "done", campaign, "merge-pr", "--note", "https://github.com/org/etl/pull/7").returncode == 0
    state = load_state(world / "campaign.state.toml")
    assert state.step(StepName.MERGE_PR).note == "https://github.com/org/etl/pull/7"
