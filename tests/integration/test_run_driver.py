"""The headless driver `logcache run` as a real process: killed with SIGKILL at several
points it resumes to the same result as an uninterrupted run; a second operator, a bad
state file and credentials in the environment never cost the campaign anything."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from logcache.campaign import open_campaign
from logcache.demo import build_world
from logcache.runbook import MANUAL_STEPS
from state.model import StepName, StepStatus, operator
from state.persist import StateFileError, load_state

SEED = 11
STATE = "campaign.state.toml"
# Columns that legitimately differ between two runs of the same world.
VOLATILE = ("started_at", "duration_s", "parcel", "attempt")
AUTOMATABLE = [n for n in StepName if n not in MANUAL_STEPS]


def logcache_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "logcache", *map(str, args)]


def logcache(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(logcache_cmd(*args), capture_output=True, text=True, timeout=180, env=env)


def step_status(world: Path, name: StepName) -> StepStatus | None:
    """The step's status in the state file, or None while there is none or it is being replaced."""
    try:
        return load_state(world / STATE).step(name).status
    except (StateFileError, OSError):
        return None


def run_to_end(world: Path, env: dict[str, str] | None = None) -> None:
    """`logcache run` until every automatable step is done, marking build-image on the way."""
    campaign = world / "campaign.toml"
    for _ in range(4):
        result = logcache("run", campaign, env=env)
        # Every run here ends at a manual step (build-image, then merge-pr): exit 3.
        assert result.returncode == 3, result.stdout + result.stderr
        state = load_state(world / STATE)
        if all(state.step(n).status is StepStatus.DONE for n in AUTOMATABLE):
            assert "stopped at merge-pr" in result.stdout
            assert state.step(StepName.MERGE_PR).status is StepStatus.PENDING
            assert (world / "cache-validations.parquet").is_file()
            return
        assert "stopped at build-image" in result.stdout, result.stdout
        done = logcache("step", "done", campaign, "build-image", "--note", "quay.io/etl:test", env=env)
        assert done.returncode == 0, done.stderr
    pytest.fail(f"logcache run did not finish: {load_state(world / STATE).steps}")


def validations(world: Path) -> list[dict[str, Any]]:
    frame = pl.read_parquet(world / "cache-validations.parquet").drop(VOLATILE)
    assert frame["is_valid"].all()
    return frame.sort(frame.columns).to_dicts()


def destination(world: Path) -> list[tuple[str, int, str]]:
    """Every object at the destination as the store lists it (its own in-flight temp
    files, `.logcache-tmp-*`, are not objects)."""
    root = world / "permanent"
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".logcache-tmp-")
    )


def contents(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world never run; tests copy it (paths in campaign.toml are relative)."""
    world = tmp_path_factory.mktemp("pristine") / "world"
    build_world(str(world), seed=SEED, scale="small")
    return world


@pytest.fixture(scope="module")
def reference(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[tuple[str, int, str]]]:
    """What an uninterrupted run of the world yields."""
    world = copy_world(pristine, tmp_path_factory.mktemp("reference"))
    run_to_end(world)
    rows, listing = validations(world), destination(world)
    assert len(rows) > 0 and len(listing) > 0
    return rows, listing


@pytest.fixture(scope="module")
def tiny_started(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny world whose first `logcache run` stopped at build-image: a real state file."""
    world = tmp_path_factory.mktemp("tiny") / "world"
    build_world(str(world), seed=SEED, scale="tiny")
    result = logcache("run", world / "campaign.toml")
    assert result.returncode == 3 and "stopped at build-image" in result.stdout, result.stdout + result.stderr
    return world


def copy_world(source: Path, tmp_path: Path) -> Path:
    world = tmp_path / "world"
    shutil.copytree(source, world, symlinks=True)
    return world


def files_under(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


class NthSave:
    """True on the sixth save of the state file seen since the run started (the state
    is saved at each step's start and end and, debounced, during long steps)."""

    def __init__(self, world: Path, nth: int = 6) -> None:
        self.path = world / STATE
        self.nth = nth
        self.seen = 0
        self.last = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def __call__(self, world: Path) -> bool:
        stamp = self._stamp()
        if stamp is not None and stamp != self.last:
            self.last = stamp
            self.seen += 1
        return self.seen >= self.nth


# Each point is "reached or passed": when the run races past it between two polls the
# process is still killed (a little later) and the rerun must still finish the same.
KILL_POINTS: dict[str, Callable[[Path], Callable[[Path], bool]]] = {
    "discover": lambda w: lambda world: step_status(world, StepName.DISCOVER) in (StepStatus.RUNNING, StepStatus.DONE),
    "mid-copy": lambda w: lambda world: files_under(world / "permanent") > 0,
    "mid-validation": lambda w: lambda world: files_under(world / "results") > 0,
    "state-save": NthSave,
}


def run_until_killed(world: Path, make_predicate: Callable[[Path], Callable[[Path], bool]]) -> bool:
    """Drive the campaign (marking build-image when asked) and SIGKILL the run's whole
    process group, pool workers included, when the predicate holds. False if the
    campaign finished first."""
    campaign = world / "campaign.toml"
    for _ in range(3):
        predicate = make_predicate(world)
        proc = subprocess.Popen(
            logcache_cmd("run", campaign), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            while proc.poll() is None and not predicate(world):
                time.sleep(0.002)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate(timeout=30)
                assert proc.returncode == -signal.SIGKILL
                return True
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 3, out + err  # it ended at a manual step
        if "stopped at build-image" not in out:
            return False
        done = logcache("step", "done", campaign, "build-image", "--note", "quay.io/etl:test")
        assert done.returncode == 0, done.stderr
    return False


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_rerun_equals_an_uninterrupted_run(
    point: str, pristine: Path, reference: tuple[list[dict[str, Any]], list[tuple[str, int, str]]], tmp_path: Path
) -> None:
    world = copy_world(pristine, tmp_path)
    killed = run_until_killed(world, KILL_POINTS[point])
    assert killed, f"the campaign finished before the {point} kill point was reached"
    if (world / STATE).exists():
        load_state(world / STATE)  # whatever moment the kill hit, the saved state is whole
    if point == "state-save":
        # A crash inside a save leaves its temp file behind; the next run must not read it.
        # (state/persist_text.py's mkstemp names, and save_state's hard link to the .bak).
        state_bytes = (world / STATE).read_bytes()
        (world / f".{STATE}.crashed1.tmp").write_bytes(state_bytes[: len(state_bytes) // 2])
        (world / f".{STATE}.bak.999999").write_bytes(b"schema_version = 99\n")
    run_to_end(world)
    rows, listing = reference
    assert validations(world) == rows
    assert destination(world) == listing
    # Nothing was ever deleted from or written into the source.
    assert contents(world / "ephemeral") == contents(pristine / "ephemeral")


def test_second_run_is_refused_naming_the_holder_and_writes_nothing(tiny_started: Path, tmp_path: Path) -> None:
    world = copy_world(tiny_started, tmp_path)
    with open_campaign(world / "campaign.toml"):
        before = snapshot(world)
        state_before = (world / STATE).read_bytes()
        second = logcache("run", world / "campaign.toml")
        assert second.returncode == 2, second.stdout + second.stderr
        err = second.stderr.strip()
        assert "\n" not in err and "Traceback" not in err, err
        assert "campaign is being driven by" in err
        assert operator() in err  # user@host of the holder
        assert f"pid {os.getpid()}" in err
        assert (world / STATE).read_bytes() == state_before
        assert snapshot(world) == before


def _truncated(text: str) -> str:
    # Cut inside a quoted value: never valid TOML, whatever the file holds.
    cut = text.index('status = "') + len('status = "do')
    return text[:cut]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_truncated, "not valid TOML"),
        (lambda t: t.replace('status = "done"', "status = 7", 1), "steps[0].status must be one of"),
        (lambda t: t.replace("schema_version = 1", "schema_version = 99", 1), "newer logcache (schema 99 > 1)"),
    ],
    ids=["truncated", "wrong-type", "newer-schema"],
)
@pytest.mark.parametrize("command", ["run", "status"])
def test_bad_state_file_is_one_line_error_exit_2_and_untouched(
    command: str, mutate: Callable[[str], str], problem: str, tiny_started: Path, tmp_path: Path
) -> None:
    world = copy_world(tiny_started, tmp_path)
    path = world / STATE
    bad = mutate(path.read_text(encoding="utf-8")).encode("utf-8")
    path.write_bytes(bad)
    backup = (world / f"{STATE}.bak").read_bytes()

    result = logcache(command, world / "campaign.toml")

    assert result.returncode == 2, result.stdout + result.stderr
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert str(path) in err and problem in err, err
    assert path.read_bytes() == bad
    assert (world / f"{STATE}.bak").read_bytes() == backup
    assert not (world / "cache-validations.parquet").exists()


def test_no_credentials_written_to_config_or_state(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    from state.config import S3Settings

    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIAFAKEKEY7LOGCACHE",
        "AWS_SECRET_ACCESS_KEY": "fakeSecretNeverWritten/Zq81xVw0logcache",
        "AWS_SESSION_TOKEN": "FakeSessionTokenNeverWritten-4f2c9e",
    }
    world = tmp_path / "campaign"
    settings = S3Settings(endpoint_url=s3_endpoint, region="us-east-1", max_attempts=3)
    build_world(f"s3://{s3_bucket}/world", seed=SEED, scale="tiny", campaign_dir=world, s3=settings)
    config = world / "campaign.toml"
    # One parcel: the same credentials path in a pool worker, in half the time on moto.
    text = config.read_text(encoding="utf-8")
    assert "parcel_count = 3" in text
    config.write_text(text.replace("parcel_count = 3", "parcel_count = 1"), encoding="utf-8")
    env = {**os.environ, **secrets}

    run_to_end(world, env=env)

    assert load_state(world / STATE).step(StepName.COPY).status is StepStatus.DONE
    written = [world / "campaign.toml", world / STATE, *world.glob("*.bak"), *world.glob("*.lock"), *world.rglob(".*")]
    assert (world / STATE) in written and (world / "campaign.lock") in written
    for path in {p for p in written if p.is_file()}:
        data = path.read_bytes()
        for name, value in secrets.items():
            assert value.encode() not in data, f"{name} written to {path.name}"


def test_ctrl_c_mid_validation_stops_cleanly_and_the_next_run_finishes(
    pristine: Path, reference: tuple[list[dict[str, Any]], list[tuple[str, int, str]]], tmp_path: Path
) -> None:
    world = copy_world(pristine, tmp_path)
    campaign = world / "campaign.toml"
    assert "stopped at build-image" in logcache("run", campaign).stdout
    assert logcache("step", "done", campaign, "build-image", "--note", "t").returncode == 0
    proc = subprocess.Popen(logcache_cmd("run", campaign), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while files_under(world / "results") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "stopping: letting work in flight finish" in out
    assert err.strip().count("\n") == 0 and "interrupted; the campaign state is saved" in err
    state = load_state(world / STATE)
    assert state.step(StepName.VALIDATE).status is StepStatus.PENDING
    assert "interrupted" in state.step(StepName.VALIDATE).note
    run_to_end(world)
    assert validations(world) == reference[0]
