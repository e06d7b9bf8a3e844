"""Storage faults on a real S3 server (moto behind the fault-injecting proxy of
support/servers.py) are never findings: cut bodies are read again, expired credentials
stop the run with one line, and a pair that could not be checked is re-checked by a plain
rerun, never saved as invalid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import logcache
from support.servers import S3Proxy, proxy_server
from test_robust_input import one_line_exit_2

from logcache.demo import build_world
from logcache.stores import open_results
from logcache.validation import ResultRow, read_results
from state.config import S3Settings, load_config
from state.model import StepName, StepStatus
from state.persist import load_state

SEED = 5


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


def saved(world: Path) -> list[ResultRow]:
    return read_results(open_results(load_config(world / "campaign.toml")))


def discovered_and_copied(world: Path) -> Path:
    campaign = world / "campaign.toml"
    for command in ("discover", "copy"):
        done = logcache(command, campaign)
        assert done.returncode == 0, done.stderr
    return campaign


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


def test_expired_credentials_stop_validation_in_one_line_and_a_plain_rerun_checks_every_pair(s3_world: tuple[Path, S3Proxy]) -> None:
    world, proxy = s3_world
    campaign = discovered_and_copied(world)
    proxy.expire_after = proxy.counts["all"] + 60  # the token expires part-way through validation
    stopped = logcache("validate", campaign)
    one_line_exit_2(stopped, "access denied", "ExpiredToken")
    assert proxy.counts["expired"] > 0
    state = load_state(load_config(campaign).state_path)
    assert state.step(StepName.VALIDATE).status is StepStatus.FAILED
    assert "ExpiredToken" in state.step(StepName.VALIDATE).note
    # Nothing the expired token stopped is saved as a finding.
    assert [r for r in saved(world) if not r.is_valid] == []

    proxy.expire_after = None  # fresh credentials
    again = logcache("validate", campaign)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "36 pairs: 36 valid, 0 invalid, 0 not checked" in again.stdout, again.stdout


def test_a_pair_whose_body_stays_cut_is_not_checked_and_a_plain_rerun_checks_it(s3_world: tuple[Path, S3Proxy]) -> None:
    world, proxy = s3_world
    campaign = discovered_and_copied(world)
    # Two attempts, not five: every one is cut, and each retry only waits its backoff.
    campaign.write_text(campaign.read_text(encoding="utf-8").replace("max_attempts = 5", "max_attempts = 2"), encoding="utf-8")
    proxy.cut_every = 1  # every object GET cut: nothing can be read whole
    cut = logcache("validate", campaign, "--json")
    assert cut.returncode == 1, cut.stdout + cut.stderr
    assert all(r.error_kind == "not-checked" and "cut short" in r.error for r in saved(world)), {(r.error_kind, r.error[:150]) for r in saved(world)}
    aggregate = logcache("aggregate", campaign)
    assert aggregate.returncode == 1 and "36 rows: 0 valid, 0 invalid, 36 not checked" in aggregate.stdout, aggregate.stdout
    failures = logcache("failures", campaign)
    assert failures.stdout.count("not checked ") == 36 and "invalid " not in failures.stdout, failures.stdout
    show = logcache("show", campaign, f"{saved(world)[0].dataset}/{saved(world)[0].validation}")
    assert "NOT CHECKED" in show.stdout and "INVALID" not in show.stdout, show.stdout

    proxy.cut_every = 0
    assert logcache("step", "done", campaign, "build-image", "--note", "t").returncode == 0
    run = logcache("run", campaign)
    assert run.returncode == 3 and "stopped at merge-pr" in run.stdout, run.stdout + run.stderr
    status = logcache("status", campaign)
    assert "36/36 valid" in status.stdout, status.stdout


def test_retry_settings_come_from_the_environment_when_the_campaign_sets_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from support.campaigns import write_campaign

    from logcache.storage.s3 import retries

    config = load_config(write_campaign(tmp_path, "[s3]\nregion = \"us-east-1\"\n"))
    assert (config.s3.retry_mode, config.s3.max_attempts) == (None, None)
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    assert retries(config.s3, {}) == ("adaptive", 4)
    on_file = load_config(write_campaign(tmp_path, "[s3]\nretry_mode = \"standard\"\nmax_attempts = 7\n"))
    assert retries(on_file.s3, {}) == ("standard", 7)
    monkeypatch.delenv("AWS_RETRY_MODE")
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    assert retries(config.s3, {"max_attempts": "6"}) == ("standard", 6)
    assert retries(config.s3, {}) == ("standard", 10)


@pytest.mark.parametrize("direct", [True, False])
def test_a_fifth_of_requests_throttled_under_adaptive_retries_still_copies_everything(s3_proxy: tuple[str, S3Proxy], s3_bucket: str, direct: bool) -> None:
    from test_copy import build_sides

    from logcache.copy import copy_entries
    from logcache.storage import open_store

    endpoint, proxy = s3_proxy
    settings = S3Settings(endpoint_url=endpoint, region="us-east-1", retry_mode="adaptive", max_attempts=10, direct_requests=direct)
    sides = build_sides(open_store(f"s3://{s3_bucket}/a/src", settings, 8), open_store(f"s3://{s3_bucket}/a/dst", settings, 8))
    proxy.slowdown_every = 5
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=4)
    assert report.ok, report.failures
    assert report.objects_copied == 10 and proxy.counts["503"] > 0
    # Each object copied once, plus one more request per 503 at most: no request is sent twice unthrottled.
    assert proxy.counts["COPY"] <= 10 + proxy.counts["503"], proxy.counts
    print(f"direct={direct}: {dict(proxy.counts)}")
