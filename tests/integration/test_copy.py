"""Copy (runbook step 3) on local dirs and on a real S3-protocol server (moto, over HTTP)."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.servers import S3Proxy

from logcache.cli import main
from logcache.copy import (
    CopyEvent,
    CopyFinished,
    CopyPlanned,
    CopyProgress,
    DatasetConflict,
    DatasetFailed,
    DatasetStatus,
    DatasetVerified,
    copy_entries,
    select_entries,
)
from logcache.demo import build_world
from logcache.entries import CSV_NAME, CacheEntry, owner_of, read_entries, write_entries
from logcache.errors import UnknownDataset
from logcache.storage import Store, open_store
from state.config import S3Settings
from state.model import CopyStatus, StepName, StepStatus
from state.persist import load_state

# (dataset, kind, cache id, objects)
SPECS = [
    ("raw-accounts-s0", "log", "idA", 3),
    ("raw-accounts-s0", "materialized-entities", "idB", 2),
    ("raw-feed-s1", "log", "idC", 5),
]


def payload(cache_id: str, i: int) -> bytes:
    return f"PAR1 {cache_id} part {i} ".encode() * (20 + 7 * i)


@dataclass
class Sides:
    source: Store
    destination: Store
    entries: list[CacheEntry]

    def snapshot(self, store: Store) -> list[tuple[str, int, str]]:
        return [(o.key, o.size, o.etag) for o in store.list()]

    def relative(self, store: Store, prefix: str) -> list[tuple[str, int]]:
        return [(o.key, o.size) for o in store.list(prefix)]


def build_sides(source: Store, destination: Store) -> Sides:
    entries = []
    for dataset, kind, cache_id, n in SPECS:
        for i in range(n):
            source.write_bytes(f"{cache_id}/part-{i:05d}.parquet", payload(cache_id, i))
        listed = list(source.list(cache_id))
        entries.append(
            CacheEntry(dataset, kind, 100, source.url_of(cache_id), destination.url_of(cache_id), n, sum(o.size for o in listed))
        )
    # A sibling whose name extends a cache id: a prefix is a folder, so it is never copied.
    source.write_bytes("idA2/part-00000.parquet", b"not part of idA")
    return Sides(source, destination, entries)


@pytest.fixture(params=["local", "s3"])
def sides(request: pytest.FixtureRequest, tmp_path: Path) -> Sides:
    if request.param == "local":
        return build_sides(open_store(str(tmp_path / "src")), open_store(str(tmp_path / "dst")))
    settings = request.getfixturevalue("s3_settings")
    bucket = request.getfixturevalue("s3_bucket")
    run = uuid.uuid4().hex[:8]
    return build_sides(
        open_store(f"s3://{bucket}/{run}/ephemeral", settings, 16),
        open_store(f"s3://{bucket}/{run}/permanent/cache", settings, 16),
    )


def test_copy_all_then_rerun_copies_nothing_and_source_is_unchanged(sides: Sides) -> None:
    before = sides.snapshot(sides.source)
    events: list[CopyEvent] = []
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=4, on_event=events.append)

    assert report.ok and not report.failures
    assert report.objects_copied == 10 and report.objects_skipped == 0
    assert report.bytes_copied == sum(e.bytes for e in sides.entries)
    for _, _, cache_id, _ in SPECS:
        assert sides.relative(sides.destination, cache_id) == sides.relative(sides.source, cache_id)
    assert not sides.destination.exists("idA2/part-00000.parquet")
    assert sorted(e.name for e in events if isinstance(e, DatasetVerified)) == sorted(e.name for e in sides.entries)
    planned = [e for e in events if isinstance(e, CopyPlanned)]
    assert len(planned) == 1 and planned[0].objects_to_copy == 10
    assert isinstance(events[-1], CopyFinished) and events[-1].report is report
    last = [e for e in events if isinstance(e, CopyProgress)][-1]
    assert (last.objects_done, last.objects_total) == (10, 10)

    again = copy_entries(sides.entries, sides.source, sides.destination, concurrency=4)
    assert again.ok
    assert (again.objects_copied, again.objects_skipped) == (0, 10)
    assert sides.snapshot(sides.source) == before


def test_partial_destination_copies_only_the_rest(sides: Sides) -> None:
    sides.destination.copy_from(sides.source, "idC/part-00000.parquet", "idC/part-00000.parquet")
    sides.destination.copy_from(sides.source, "idC/part-00003.parquet", "idC/part-00003.parquet")
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=3)
    assert report.ok
    assert (report.objects_copied, report.objects_skipped) == (8, 2)
    assert report.datasets["raw-feed-s1/log"].objects_skipped == 2
    assert sides.relative(sides.destination, "idC") == sides.relative(sides.source, "idC")


def test_conflict_is_reported_and_left_alone_unless_overwrite(sides: Sides) -> None:
    sides.destination.write_bytes("idB/part-00001.parquet", b"something else entirely")
    events: list[CopyEvent] = []
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=4, on_event=events.append)

    assert not report.ok
    result = report.datasets["raw-accounts-s0/materialized-entities"]
    assert result.status is DatasetStatus.CONFLICT
    assert [c.destination_url for c in result.conflicts] == [sides.destination.url_of("idB/part-00001.parquet")]
    assert sides.destination.read_bytes("idB/part-00001.parquet") == b"something else entirely"
    conflict_events = [e for e in events if isinstance(e, DatasetConflict)]
    assert len(conflict_events) == 1 and not conflict_events[0].overwritten
    assert report.datasets["raw-accounts-s0/log"].status is DatasetStatus.VERIFIED

    fixed = copy_entries(sides.entries, sides.source, sides.destination, concurrency=4, overwrite=True)
    assert fixed.ok
    assert sides.destination.read_bytes("idB/part-00001.parquet") == payload("idB", 1)


def test_missing_source_prefix_is_a_failure_naming_it_and_others_copy(sides: Sides) -> None:
    gone = CacheEntry(
        "raw-risk-s0", "log", 5, sides.source.url_of("idGone"), sides.destination.url_of("idGone"), 2, 10
    )
    events: list[CopyEvent] = []
    report = copy_entries([*sides.entries, gone], sides.source, sides.destination, concurrency=4, on_event=events.append)

    assert not report.ok
    assert [(f.name, f.url, f.reason) for f in report.failures] == [
        ("raw-risk-s0/log", gone.source, f"Path does not exist: {gone.source}")
    ]
    assert [e.name for e in events if isinstance(e, DatasetFailed)] == ["raw-risk-s0/log"]
    assert len(report.with_status(DatasetStatus.VERIFIED)) == 3
    assert report.objects_copied == 10


def test_dry_run_writes_nothing(sides: Sides) -> None:
    sides.destination.copy_from(sides.source, "idA/part-00000.parquet", "idA/part-00000.parquet")
    events: list[CopyEvent] = []
    report = copy_entries(sides.entries, sides.source, sides.destination, dry_run=True, on_event=events.append)
    assert report.ok and report.dry_run
    assert report.objects_copied == 0
    assert {d.status for d in report.datasets.values()} == {DatasetStatus.PLANNED}
    planned = next(e for e in events if isinstance(e, CopyPlanned))
    assert planned.objects_to_copy == 9
    assert [o.key for o in sides.destination.list()] == ["idA/part-00000.parquet"]


def test_only_accepts_name_shard_cache_id_and_url(sides: Sides) -> None:
    entries = sides.entries
    by = {e.name: e for e in entries}
    pick = lambda *only: [e.name for e in select_entries(entries, only)]  # noqa: E731
    assert pick("raw-feed-s1/log") == ["raw-feed-s1/log"]
    assert pick("raw-accounts-s0") == ["raw-accounts-s0/log", "raw-accounts-s0/materialized-entities"]
    assert pick("idB") == ["raw-accounts-s0/materialized-entities"]
    assert pick(by["raw-feed-s1/log"].destination + "/") == ["raw-feed-s1/log"]
    assert pick(by["raw-feed-s1/log"].source) == ["raw-feed-s1/log"]
    if by["raw-feed-s1/log"].destination.startswith("s3://"):
        assert pick(by["raw-feed-s1/log"].destination.replace("s3://", "s3a://")) == ["raw-feed-s1/log"]
        assert owner_of(entries, by["raw-feed-s1/log"].destination.replace("s3://", "s3a://") + "/") == "raw-feed-s1/log"
    assert owner_of(entries, by["raw-feed-s1/log"].source) == "raw-feed-s1/log"
    assert owner_of(entries, by["raw-feed-s1/log"].source + "-elsewhere") == ""

    report = copy_entries(entries, sides.source, sides.destination, only=["idC"], concurrency=2)
    assert list(report.datasets) == ["raw-feed-s1/log"] and report.ok
    assert {o.key.split("/")[0] for o in sides.destination.list()} == {"idC"}


def test_unknown_name_fails_before_anything_is_copied(sides: Sides) -> None:
    with pytest.raises(UnknownDataset, match="did you mean 'raw-accounts-s0'"):
        copy_entries(sides.entries, sides.source, sides.destination, only=["idA", "raw-acounts-s0"])
    assert list(sides.destination.list()) == []


def test_verification_fails_on_objects_the_source_does_not_have(sides: Sides) -> None:
    sides.destination.write_bytes("idA/stray.parquet", b"left over from something")
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=4)
    result = report.datasets["raw-accounts-s0/log"]
    assert result.status is DatasetStatus.FAILED
    assert "1 objects at the destination are not in the source (stray.parquet)" in (result.reason or "")
    assert sides.destination.exists("idA/stray.parquet")


class _CancelAfter:
    """A destination that asks the run to stop after `n` copies (as a Ctrl-C would)."""

    def __init__(self, inner: Store, cancel: threading.Event, n: int) -> None:
        self.inner, self.cancel, self.n = inner, cancel, n
        self.copies = 0
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def copy_from(self, source: Store, source_key: str, key: str, size: int | None = None) -> None:
        self.inner.copy_from(source, source_key, key, size)
        with self.lock:
            self.copies += 1
            if self.copies == self.n:
                self.cancel.set()


def test_cancel_stops_new_copies_and_a_rerun_finishes(sides: Sides) -> None:
    cancel = threading.Event()
    stopping = _CancelAfter(sides.destination, cancel, 4)
    report = copy_entries(sides.entries, sides.source, stopping, concurrency=1, cancel=cancel)  # type: ignore[arg-type]
    assert report.interrupted and not report.ok
    assert report.objects_copied == 4 and stopping.copies == 4
    assert report.datasets["raw-accounts-s0/log"].status is DatasetStatus.VERIFIED
    assert report.datasets["raw-feed-s1/log"].status is DatasetStatus.INTERRUPTED

    rest = copy_entries(sides.entries, sides.source, sides.destination, concurrency=4)
    assert rest.ok and (rest.objects_copied, rest.objects_skipped) == (6, 4)


def test_progress_is_throttled(tmp_path: Path) -> None:
    source = open_store(str(tmp_path / "src"))
    for i in range(400):
        source.write_bytes(f"idX/part-{i:05d}.parquet", b"x" * 10)
    entry = CacheEntry("raw-big-s0", "log", 1, source.url_of("idX"), str(tmp_path / "dst" / "idX"), 400, 4000)
    events: list[CopyEvent] = []
    report = copy_entries([entry], source, open_store(str(tmp_path / "dst")), concurrency=8, on_event=events.append)
    assert report.ok and report.objects_copied == 400
    progress = [e for e in events if isinstance(e, CopyProgress)]
    assert len(progress) <= 2 + 10 * (report.elapsed_s + 0.1)
    assert progress[-1].datasets[0].objects_done == 400


def test_a_copy_too_short_for_a_second_progress_tick_still_reports_its_rate(tmp_path: Path) -> None:
    sides = build_sides(open_store(str(tmp_path / "src")), open_store(str(tmp_path / "dst")))
    events: list[CopyEvent] = []
    assert copy_entries(sides.entries, sides.source, sides.destination, concurrency=4, on_event=events.append).ok
    last = [e for e in events if isinstance(e, CopyProgress)][-1]
    assert last.objects_done == last.objects_total == 10
    assert last.objects_per_s > 0 and last.bytes_per_s > 0 and last.eta_s == 0


# --- on the S3 endpoint only --------------------------------------------------------------


SLOW_DOWN = (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")


@pytest.mark.parametrize("direct", [True, False])
def test_slowdown_503_is_retried_and_the_copy_completes(s3_proxy: tuple[str, S3Proxy], s3_bucket: str, direct: bool) -> None:
    endpoint, proxy = s3_proxy
    settings = S3Settings(endpoint_url=endpoint, region="us-east-1", retry_mode="standard", max_attempts=10, direct_requests=direct)
    sides = build_sides(open_store(f"s3://{s3_bucket}/src", settings, 8), open_store(f"s3://{s3_bucket}/dst", settings, 8))
    proxy.canned = [SLOW_DOWN] * 4
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=2)
    assert report.ok, report.failures
    assert report.objects_copied == 10
    assert proxy.canned == [] and proxy.copy_requests == 14
    # Direct: each object once, and boto3 again for the 4 throttled; else boto3 alone.
    assert proxy.direct_copy_requests == (10 if direct else 0)
    assert sides.relative(sides.destination, "idC") == sides.relative(sides.source, "idC")


def test_a_redirect_leaves_the_rest_of_the_run_to_boto3(s3_proxy: tuple[str, S3Proxy], s3_bucket: str) -> None:
    endpoint, proxy = s3_proxy
    settings = S3Settings(endpoint_url=endpoint, region="us-east-1", max_attempts=3)
    sides = build_sides(open_store(f"s3://{s3_bucket}/src", settings, 8), open_store(f"s3://{s3_bucket}/dst", settings, 8))
    proxy.canned = [(301, b"<Error><Code>PermanentRedirect</Code><Message>Use the bucket's own endpoint.</Message></Error>")]
    report = copy_entries(sides.entries, sides.source, sides.destination, concurrency=1)
    assert report.ok and report.objects_copied == 10
    # The declined copy was sent again through boto3, then every copy went through boto3.
    assert proxy.copy_requests == 11 and proxy.direct_copy_requests == 1
    assert sides.destination.direct is not None and not sides.destination.direct.enabled  # type: ignore[attr-defined]
    for _dataset, _kind, cache_id, _n in SPECS:
        assert sides.relative(sides.destination, cache_id) == sides.relative(sides.source, cache_id)


# --- the CLI, on demo worlds -------------------------------------------------------------


@pytest.fixture
def demo_world(tmp_path: Path) -> Path:
    root = tmp_path / "w"
    build_world(str(root), seed=3, scale="tiny", faults={"missing-source": 1})
    assert main(["discover", str(root / "campaign.toml")]) == 0
    return root


def test_cli_copies_a_demo_world_and_records_the_missing_source(demo_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = json.loads((demo_world / "truth.json").read_text())
    missing = next(f["entry"] for f in truth["faults"] if f["kind"] == "missing-source")
    campaign = str(demo_world / "campaign.toml")
    entries = {e.name: e for e in read_entries(demo_world / CSV_NAME)}

    assert main(["copy", campaign, "--dry-run"]) == 1
    assert not any((demo_world / "permanent").rglob("*.parquet"))
    capsys.readouterr()

    assert main(["copy", campaign, "--concurrency", "4"]) == 1
    out = capsys.readouterr().out
    assert f"FAILED {missing}: Path does not exist: {entries[missing].source}" in out
    assert f"verified {len(entries) - 1} of {len(entries)} datasets" in out
    for entry in entries.values():
        if entry.name != missing:
            src = local_files(entry.source)
            assert local_files(entry.destination) == src and src, entry.name

    state = load_state(demo_world / "campaign.state.toml")
    assert state.step(StepName.COPY).status is StepStatus.FAILED
    assert [(fp.url, fp.origin, fp.dataset_name) for fp in state.open_failed_paths()] == [(entries[missing].source, "discover", missing)]
    assert {d.name for d in state.datasets if d.copy_status is CopyStatus.VERIFIED} == set(entries) - {missing}

    assert main(["copy", campaign, "--json", "--only", *[n for n in entries if n != missing]]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["objects_copied"] == 0
    assert summary["objects_skipped"] == sum(e.objects for n, e in entries.items() if n != missing)


def test_cli_bad_input_exits_2_with_one_line(demo_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    campaign = str(demo_world / "campaign.toml")
    assert main(["copy", campaign, "--only", "raw-nope-s9/log"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("logcache: no dataset named 'raw-nope-s9/log'") and err.count("\n") == 1
    assert main(["copy", campaign, "--concurrency", "0"]) == 2
    (demo_world / CSV_NAME).unlink()
    assert main(["copy", campaign]) == 2
    assert "run `logcache discover CAMPAIGN` first" in capsys.readouterr().err


def test_cli_copy_after_a_lost_copy_refills_only_that_prefix(demo_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    campaign = str(demo_world / "campaign.toml")
    entries = [e for e in read_entries(demo_world / CSV_NAME) if e.objects]
    write_entries(demo_world / CSV_NAME, entries)
    assert main(["copy", campaign]) == 0
    lost = entries[0]
    for path in Path(lost.destination.removeprefix("file://")).iterdir():
        path.unlink()
    capsys.readouterr()
    assert main(["copy", campaign, "--json", "--only", lost.destination]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["objects_copied"] == lost.objects


def local_files(url: str) -> list[tuple[str, int]]:
    root = Path(url.removeprefix("file://"))
    return sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob("*") if p.is_file())
