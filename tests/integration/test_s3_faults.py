"""Storage faults on a real S3 server (moto behind the fault-injecting proxy of
support/servers.py) are never findings: cut bodies are read again, expired credentials
stop the run with one line, and a pair that could not be checked is re-checked by a plain
rerun, never saved as invalid."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.servers import S3Proxy, proxy_server

from logcache.demo import build_world
from state.config import S3Settings, load_config
from state.model import StepName, StepStatus
from state.persist import load_state

SEED = 5


def logcache(*args: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logcache", *map(str, args)], capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def s3_world(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> Iterator[tuple[Path, S3Proxy]]:
    """A tiny demo world on moto, its campaign file pointed at the proxy in front of it:
    one parcel, validated in this process, so the faults land where the test counts them."""
    with proxy_server(s3_endpoint) as (endpoint, proxy):
        world = tmp_path / "campaign"
        settings = S3Settings(endpoint_url=s3_endpoint, region="us-east-1", max_attempts=5)
        build_world(f"s3://{s3_bucket}/world", seed=SEED, scale="tiny", campaign_dir=world, s3=settings)
        config = world / "campaign.toml"
        text = config.read_text(encoding="utf-8").replace(s3_endpoint, endpoint).replace("parcel_count = 3", "parcel_count = 1")
        config.write_text(text, encoding="utf-8")
        yield world, proxy


def _validations(world: Path) -> dict[str, Any]:
    run = logcache("validate", world / "campaign.toml", "--json")
    assert run.returncode in (0, 1), run.stderr
    return json.loads(run.stdout)


def test_cut_bodies_are_read_again_and_every_pair_is_valid(s3_world: tuple[Path, S3Proxy]) -> None:
    world, proxy = s3_world
    campaign = world / "campaign.toml"
    proxy.cut_every = 4  # a quarter of all object GETs, ranged ones included, cut half-way
    discover = logcache("discover", campaign)
    assert discover.returncode == 0, discover.stderr
    assert load_state(load_config(campaign).state_path).step(StepName.DISCOVER).status is StepStatus.DONE
    copy = logcache("copy", campaign)
    assert copy.returncode == 0, copy.stderr
    validate = logcache("validate", campaign)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert proxy.counts["cut"] > 10, proxy.counts
    assert "invalid" not in validate.stdout.replace("0 invalid", ""), validate.stdout


def test_a_body_cut_on_every_attempt_ends_discover_in_one_line_and_the_step_is_not_left_running(s3_world: tuple[Path, S3Proxy]) -> None:
    world, proxy = s3_world
    campaign = world / "campaign.toml"
    assert logcache("transactions", campaign, "--pick").returncode == 0
    proxy.cut_every = 1
    discover = logcache("discover", campaign)
    assert discover.returncode == 2, discover.stderr
    assert discover.stderr.strip().count("\n") == 0 and "cut short on all 5 attempts" in discover.stderr, discover.stderr
    assert "internal error" not in discover.stderr
    assert load_state(load_config(campaign).state_path).step(StepName.DISCOVER).status is not StepStatus.RUNNING
    proxy.cut_every = 0
    assert logcache("discover", campaign).returncode == 0
