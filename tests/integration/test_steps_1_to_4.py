"""Runbook steps 1-4 through the CLI on a whole demo world, on local folders and on the S3
server: the right T for every dataset (against the generator's truth), every object
present and verified at the destination, and a registry patch that `git apply` accepts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from logcache.cli import main
from logcache.demo import build_world
from logcache.entries import CSV_NAME, read_entries
from logcache.registry import RegistryValue, ScalaRegistry
from logcache.storage import open_store
from state.config import S3Settings, load_config
from state.model import StepName, StepStatus
from state.persist import load_state

SEED = 23


@pytest.fixture(params=["local", "s3"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    folder = tmp_path / "w"
    if request.param == "local":
        build_world(str(folder), seed=SEED, scale="tiny")
    else:
        settings: S3Settings = request.getfixturevalue("s3_settings")
        bucket: str = request.getfixturevalue("s3_bucket")
        build_world(f"s3://{bucket}/world", seed=SEED, scale="tiny", campaign_dir=folder, s3=settings)
    return folder


def test_transactions_discover_copy_and_registry_patch(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = json.loads((world / "truth.json").read_text())
    campaign = str(world / "campaign.toml")
    config = load_config(world / "campaign.toml")

    assert main(["transactions", campaign]) == 0
    assert truth["transaction"] in capsys.readouterr().out

    assert main(["discover", campaign]) == 0
    entries = read_entries(world / CSV_NAME)
    assert {e.name: e.t for e in entries} == {name: e["t"] for name, e in truth["entries"].items()}
    assert load_state(world / "campaign.state.toml").transaction_id == truth["transaction"]

    capsys.readouterr()
    assert main(["copy", campaign, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["counts"] == {"verified": len(entries)}
    assert summary["objects_copied"] == sum(e.objects for e in entries) > 0
    source, destination = open_store(config.source, config.s3), open_store(config.destination, config.s3)
    for entry in entries:
        cache_id = truth["entries"][entry.name]["cache_id"]
        assert entry.destination == destination.url_of(cache_id)
        copied = [(o.key, o.size) for o in destination.list(cache_id)]
        assert copied == [(o.key, o.size) for o in source.list(cache_id)] and len(copied) == entry.objects, entry.name
    assert load_state(world / "campaign.state.toml").step(StepName.COPY).status is StepStatus.DONE

    registry = world / "registry" / "LogCacheEntries.scala"
    before = registry.read_text()
    patch = tmp_path / "registry.patch"
    assert main(["registry", "export", campaign, "--out", str(patch)]) == 0
    assert registry.read_text() == before
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=registry.parent, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=registry.parent, check=True)
    after = ScalaRegistry().parse(registry.read_text()).entries
    assert {name: after[name] for name in truth["entries"]} == {e.name: RegistryValue(e.t, e.destination) for e in entries}
