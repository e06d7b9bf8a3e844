"""Environment faults (read-only folders, a full disk, a file or a folder where another
belongs, a symlinked lock) and campaign-file mistakes: one line, exit 2, from a real
`logcache` process; nothing left running, no temp files left behind."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from support.campaigns import write_campaign
from test_robust_input import logcache, no_step_running, one_line_exit_2

from logcache.demo import build_world
from logcache.entries import CSV_NAME, CacheEntry, read_entries, write_entries
from state.config import load_config
from state.model import StepName, StepStatus
from state.persist import load_state


@pytest.fixture
def world(tmp_path: Path) -> Path:
    build_world(str(tmp_path / "w"), seed=5, scale="tiny")
    return tmp_path / "w"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not let tests mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _read_only(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_read_only_campaign_folder(tmpfs: Path, world: Path) -> None:
    subprocess.run(["cp", "-a", f"{world}/.", str(tmpfs)], check=True)
    assert logcache("discover", str(tmpfs / "campaign.toml")).returncode == 0
    before = _files(tmpfs)
    _read_only(tmpfs)
    one_line_exit_2(logcache("copy", str(tmpfs / "campaign.toml")), "lock file", "Read-only file system")
    assert _files(tmpfs) == before
    no_step_running(tmpfs)


def test_read_only_work_dir(tmpfs: Path, world: Path) -> None:
    text = (world / "campaign.toml").read_text()
    assert 'work_dir = "."' in text
    (world / "campaign.toml").write_text(text.replace('work_dir = "."', f'work_dir = "{tmpfs}"', 1))
    _read_only(tmpfs)
    one_line_exit_2(logcache("discover", str(world / "campaign.toml")), "read-only")
    no_step_running(world)


def test_a_full_disk_under_the_work_dir(tmpfs: Path, world: Path) -> None:
    text = (world / "campaign.toml").read_text()
    (world / "campaign.toml").write_text(text.replace('work_dir = "."', f'work_dir = "{tmpfs}"', 1))
    filler = tmpfs / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    one_line_exit_2(logcache("discover", str(world / "campaign.toml")), "No space left on device")
    no_step_running(world)
    assert not [p for p in tmpfs.iterdir() if p.name != "filler"]


def test_a_full_destination_stops_the_copy_once(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    entries = []
    for d in range(4):
        for i in range(2):
            client.put_object(Bucket=s3_bucket, Key=f"eph/id{d}/part-{i}.parquet", Body=os.urandom(200_000))
        entries.append(CacheEntry(f"raw-full-s{d}", "log", 5, f"s3://{s3_bucket}/eph/id{d}", str(tmp_path / "dest" / f"id{d}"), 2, 400_000))
    write_entries(tmp_path / CSV_NAME, entries)
    campaign = write_campaign(
        tmp_path,
        f"""[s3]
endpoint_url = "{s3_endpoint}"
region = "us-east-1"
max_attempts = 2
""",
        source=f"s3://{s3_bucket}/eph",
        destination="dest",
    )
    limit = 64 * 1024

    def small_files() -> None:
        # A file size limit: writes past it fail with EFBIG, as a full disk fails with ENOSPC.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = logcache("copy", str(campaign), env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, preexec_fn=small_files)
    one_line_exit_2(run, "File too large")
    assert "FAILED" not in run.stdout
    assert not [p for p in (tmp_path / "dest").rglob("*") if p.name.startswith(".logcache-tmp-")]
    state = load_state(load_config(campaign).state_path)
    assert state.failed_paths == []
    assert state.step(StepName.COPY).status is StepStatus.FAILED

    # With room again the copy completes.
    again = logcache("copy", str(campaign))
    assert again.returncode == 0, again.stderr


def test_stale_temp_files_of_dead_processes_are_removed(world: Path) -> None:
    assert logcache("discover", str(world / "campaign.toml")).returncode == 0
    entry = next(e for e in read_entries(world / CSV_NAME) if e.objects)
    folder = Path(entry.destination.removeprefix("file://"))
    folder.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = folder / f".logcache-tmp-{dead.pid}-part-00000.parquet"
    stale.write_bytes(b"half a copy")
    alive = folder / f".logcache-tmp-{os.getpid()}-part-00001.parquet"
    alive.write_bytes(b"a copy in flight")
    assert logcache("copy", str(world / "campaign.toml")).returncode == 0
    assert not stale.exists() and alive.exists()


def test_work_dir_that_is_a_file(world: Path) -> None:
    (world / "work-file").write_text("not a folder")
    text = (world / "campaign.toml").read_text()
    (world / "campaign.toml").write_text(text.replace('work_dir = "."', 'work_dir = "work-file"', 1))
    one_line_exit_2(logcache("discover", str(world / "campaign.toml")), "work_dir", "is a file")


def test_lock_path_that_is_a_folder(world: Path) -> None:
    (world / "campaign.lock").mkdir()
    one_line_exit_2(logcache("discover", str(world / "campaign.toml")), "is a folder")
    no_step_running(world)


def test_lock_symlink_is_not_followed(world: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (world / "campaign.lock").symlink_to(target)
    one_line_exit_2(logcache("discover", str(world / "campaign.toml")), "symbolic link")
    assert target.read_text() == "keep me"


def test_unknown_campaign_keys_are_refused_with_the_nearest_one(world: Path) -> None:
    text = (world / "campaign.toml").read_text()
    (world / "campaign.toml").write_text(text + "\n[copy]\nconcurency = 8\n" if "[copy]" not in text else text.replace("[copy]", "[copy]\nconcurency = 8", 1))
    one_line_exit_2(logcache("status", str(world / "campaign.toml")), "unknown key `copy.concurency`", "did you mean `concurrency`?")
    (world / "campaign.toml").write_text(text.replace("[campaign]", "[campaign]\nfavourite_colour = 'blue'", 1))
    one_line_exit_2(logcache("status", str(world / "campaign.toml")), "unknown key `campaign.favourite_colour`", "known keys here:")


@pytest.mark.parametrize("destination", ["ephemeral", "ephemeral/cache"])
def test_destination_equal_to_or_inside_the_source_is_refused(world: Path, destination: str) -> None:
    text = (world / "campaign.toml").read_text()
    config = load_config(world / "campaign.toml")
    assert config.destination.endswith("permanent/cache")
    (world / "campaign.toml").write_text(text.replace('"permanent/cache"', json.dumps(destination), 1))
    one_line_exit_2(logcache("copy", str(world / "campaign.toml")), "inside it")


def test_a_conflicting_dataset_is_not_counted_as_to_copy(world: Path) -> None:
    assert logcache("discover", str(world / "campaign.toml")).returncode == 0
    entry = next(e for e in read_entries(world / CSV_NAME) if e.objects >= 2)
    folder = Path(entry.destination.removeprefix("file://"))
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_bytes(b"x")
    for _ in range(2):
        run = logcache("copy", str(world / "campaign.toml"), "--only", entry.name, "--json")
        assert run.returncode == 1
        report = json.loads(run.stdout)
        assert report["counts"] == {"conflict": 1} and report["objects_copied"] == 0
        planned = next(line for line in run.stderr.splitlines() if "datasets listed" in line)
        assert "0 to copy" in planned and "1 conflicting" in planned, planned


def test_deeply_nested_campaign_and_state_files_are_refused(world: Path) -> None:
    assert logcache("discover", str(world / "campaign.toml")).returncode == 0
    state_path = load_config(world / "campaign.toml").state_path
    state_path.write_text("schema_version = 1\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    one_line_exit_2(logcache("status", str(world / "campaign.toml")), "nested too deeply")
    (world / "campaign.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    one_line_exit_2(logcache("status", str(world / "campaign.toml")), "nested too deeply")


def test_a_full_results_store_stops_validation_in_one_line_and_counts_only_what_was_saved(tmpfs: Path, world: Path) -> None:
    campaign = world / "campaign.toml"
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace("[validation]\n", f'[validation]\nresults = "{tmpfs}/results"\nparcel_count = 1\n', 1).replace("parcel_count = 3\n", ""), encoding="utf-8")
    for command in ("discover", "copy"):
        assert logcache(command, str(campaign)).returncode == 0
    # Room for a few results, not for all 36.
    free = os.statvfs(tmpfs).f_bavail * os.statvfs(tmpfs).f_frsize
    (tmpfs / "filler").write_bytes(b"\0" * (free - 48 * 1024))
    full = logcache("validate", str(campaign))
    one_line_exit_2(full, "No space left on device")
    no_step_running(world)
    saved = list((tmpfs / "results").rglob("attempt-*.parquet"))
    assert 0 < len(saved) < 36, saved
    assert not [p for p in saved if "not-checked" in p.name]

    (tmpfs / "filler").unlink()
    again = logcache("validate", str(campaign))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "36 pairs: 36 valid, 0 invalid, 0 not checked" in again.stdout, again.stdout
