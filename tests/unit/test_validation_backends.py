"""The backends' registry, its checks before anything is written, the one parser of
missing-path lines, and the submitter's outcomes as an enum in its records."""

from __future__ import annotations

from pathlib import Path

import pytest

from logcache.errors import UsageError, missing_path, missing_paths
from logcache.validation.backends import ParcelJob
from logcache.validation.backends.command import CommandBackend
from logcache.validation.backends.local import LocalBackend
from logcache.validation.backends.registry import BACKENDS, REGISTRY, backend_named
from logcache.validation.jobs import JobOutcome, JsonRecordBook, ParcelRecord
from logcache.validation.plan import Parcel, Task
from state import config as config_module
from state.config import load_config
from tests.support.campaigns import write_campaign


def test_the_campaign_file_accepts_exactly_the_registered_backends() -> None:
    # state/ may not import logcache, so it keeps the names; they must be the registry's.
    assert config_module.BACKENDS == BACKENDS == tuple(REGISTRY)


def test_an_unknown_backend_is_refused_with_the_names_to_use() -> None:
    with pytest.raises(UsageError) as refused:
        backend_named("slurm")
    assert refused.value.one_line() == "unknown backend 'slurm'; use one of local, dask, command"
    assert isinstance(backend_named("local"), LocalBackend)


def _jobs(args: tuple[str, ...] = ()) -> list[ParcelJob]:
    return [ParcelJob(Parcel(0, (Task("raw-db0-s0", "log", "log-validation", 0, 1, 100),)), "0", 1, args)]


def test_the_command_backend_refuses_a_template_it_cannot_run(tmp_path: Path) -> None:
    bare = load_config(write_campaign(tmp_path))
    with pytest.raises(UsageError, match="needs a job template"):
        backend_named("command").check(bare, _jobs(), force=False)
    (tmp_path / "t").mkdir()
    templated = load_config(write_campaign(tmp_path / "t", '[validation]\ntemplate = "run {parcel_id}"'))
    CommandBackend().check(templated, _jobs(), force=False)
    with pytest.raises(UsageError, match=r"must pass \{args\}"):
        CommandBackend().check(templated, _jobs(("--filter-by-name", "raw-db0-s0/log")), force=False)
    with pytest.raises(UsageError, match=r"must pass \{args\}"):
        CommandBackend().check(templated, _jobs(), force=True)


def test_only_the_asynchronous_submitter_resumes_jobs_of_an_earlier_run(tmp_path: Path) -> None:
    config = load_config(write_campaign(tmp_path, '[validation]\ntemplate = "run {parcel_id}"'))
    assert [backend.resumed_since(config, _jobs()) for backend in REGISTRY.values()] == [None, None, None]


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        # Spark ends the message with ";" after the URL.
        (
            "org.apache.spark.sql.AnalysisException: Path does not exist: s3a://perm/cache/0a1b;",
            ["s3a://perm/cache/0a1b"],
        ),
        ("Path does not exist: s3://perm/cache/0a1b, retrying", ["s3://perm/cache/0a1b"]),
        ("error: 'Path does not exist: s3a://perm/cache/x y'", ["s3a://perm/cache/x"]),
        ('raise "Path does not exist: s3a://perm/cache/q"', ["s3a://perm/cache/q"]),
        ("(Path does not exist: s3a://perm/cache/p).", ["s3a://perm/cache/p"]),
        ("Path does not exist: s3a://perm/cache/my%20shard/part-0.parquet;", ["s3a://perm/cache/my%20shard/part-0.parquet"]),
        (
            "Path does not exist: s3a://perm/a; Path does not exist: s3://perm/b;Path does not exist: s3a://perm/a;",
            ["s3a://perm/a", "s3://perm/b"],
        ),
        (
            "23/05/01 INFO start\nWARN Path does not exist: s3a://perm/c1;\nat org.apache.spark\nPath does not exist: /tmp/local/c2\n",
            ["s3a://perm/c1", "/tmp/local/c2"],
        ),
        ("Path does not exist: ;", []),
        ("no missing path here", []),
    ],
)
def test_missing_paths_reads_spark_and_logcache_lines(text: str, urls: list[str]) -> None:
    assert missing_paths(text) == urls


def test_missing_paths_takes_back_what_missing_path_wrote() -> None:
    for url in ("s3://perm/cache/0a1b", "/tmp/dst/raw-db0-s0", "s3://perm/cache/a%20b/c.avro"):
        assert missing_paths(missing_path(url)) == [url]


def test_a_job_record_keeps_its_outcome_as_an_enum_through_its_book(tmp_path: Path) -> None:
    book = JsonRecordBook(tmp_path / "parcels.json")
    book.put(ParcelRecord("0", 0, "run", outcome=JobOutcome.FAILED))
    book.put(ParcelRecord("1", 1, "run"))
    records = book.load()
    assert records["0"].outcome is JobOutcome.FAILED and records["0"].ended
    assert records["1"].outcome is JobOutcome.RUNNING and not records["1"].ended
    assert '"outcome": "failed"' in (tmp_path / "parcels.json").read_text()
