"""The demo world generator: determinism, formats, Datomic invariants, faults, CLI."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.demo_reference import materialize_reference, replay_violations

from logcache.catalog import FileCatalog, pick_transaction
from logcache.cli import main
from logcache.datomic.schema import AVRO_DATOM_SCHEMA, TX_PARTITION_BASE, parse_segment_key
from logcache.datomic.tables import DATOM_SCHEMA, ENTITY_SCHEMA
from logcache.demo import build_world
from logcache.demo.history import ATTRIBUTES, TX_INSTANT
from logcache.demo.lifecycle import ExpiringStore, expiring_ids
from logcache.errors import UsageError
from logcache.storage import LocalStore
from state.config import load_config

ALL_FAULTS = {"missing-copy": 1, "missing-source": 1, "corrupt-cache": 2, "stale-t": 1, "bad-parquet": 1}
CARD_ONE = {a.id for a in ATTRIBUTES if not a.many}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("worlds") / "w"
    build_world(str(root), seed=11, scale="tiny", faults=ALL_FAULTS)
    return root


def _truth(root: Path) -> dict:
    return json.loads((root / "truth.json").read_text())


def _read_log(root: Path, shard: str) -> list[dict]:
    rows: list[dict] = []
    for seg in sorted((root / "logs" / shard).iterdir()):
        with seg.open("rb") as f:
            rows.extend(fastavro.reader(f))
    return rows


def _read_dataset(root: Path, cache_id: str) -> pa.Table:
    files = sorted((root / "ephemeral" / cache_id).glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def _rows(table: pa.Table) -> Counter:
    return Counter(tuple(r.values()) for r in table.to_pylist())


def _logical(root: Path) -> dict[str, object]:
    """Everything a reader sees, keyed by relative path (bad Parquet kept as raw bytes)."""
    out: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".avro":
            with path.open("rb") as f:
                out[rel] = list(fastavro.reader(f))
        elif path.suffix == ".parquet":
            try:
                out[rel] = pq.read_table(path).to_pylist()
            except pa.ArrowInvalid:
                out[rel] = path.read_bytes()
        else:
            out[rel] = path.read_text().replace(str(root), "<root>")
    return out


def test_same_seed_same_world_and_different_seed_differs(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        build_world(str(tmp_path / name / "w"), seed=seed, scale="tiny", faults={"corrupt-cache": 1})
    a, b, c = (_logical(tmp_path / n / "w") for n in "abc")
    assert list(a) == list(b)
    assert a == b
    # Data files are byte-identical too (Avro sync markers come from the seed).
    for rel in a:
        if rel.startswith(("logs/", "ephemeral/", "catalog/")):
            assert (tmp_path / "a/w" / rel).read_bytes() == (tmp_path / "b/w" / rel).read_bytes(), rel
    assert set(a) != set(c)
    assert [v for k, v in a.items() if k.startswith("logs/")] != [v for k, v in c.items() if k.startswith("logs/")]


def test_layout_and_declared_schemas(world: Path) -> None:
    truth = _truth(world)
    bad = {f["effect"]["file_key"] for f in truth["faults"] if f["kind"] == "bad-parquet"}
    assert sorted(p.name for p in world.iterdir()) == ["campaign.toml", "catalog", "ephemeral", "logs", "permanent", "registry", "truth.json"]
    assert list((world / "permanent").iterdir()) == []
    assert not list(world.parent.glob(".w.building-*"))
    shards = sorted(p.name for p in (world / "logs").iterdir())
    assert len(shards) >= 12 and all(re.fullmatch(r"raw-[a-z-]+-s\d+", s) for s in shards)
    for seg in (world / "logs").rglob("*.avro"):
        with seg.open("rb") as f:
            reader = fastavro.reader(f)
            assert reader.codec == "deflate"
            assert [(x["name"], x["type"]) for x in reader.writer_schema["fields"]] == [
                (x["name"], x["type"]) for x in AVRO_DATOM_SCHEMA["fields"]
            ]
            assert sum(1 for _ in reader) > 0
    kinds = {d["cache_id"]: d["kind"] for d in truth["entries"].values()}
    for part in (world / "ephemeral").rglob("*.parquet"):
        key = part.relative_to(world / "ephemeral").as_posix()
        if key in bad:
            with pytest.raises(pa.ArrowInvalid):
                pq.read_table(part)
            continue
        meta = pq.ParquetFile(part).metadata
        table = pq.read_table(part)
        expected = DATOM_SCHEMA if "added" in table.column_names else ENTITY_SCHEMA
        assert table.schema.remove_metadata().equals(expected), key
        if kinds.get(key.split("/")[0]) == "log" and meta.num_rows >= 3:
            assert meta.num_row_groups >= 2
        assert meta.row_group(0).column(3).statistics.has_min_max


def test_logs_follow_datomic_rules(world: Path) -> None:
    for shard_dir in sorted((world / "logs").iterdir()):
        ranges = [parse_segment_key(p.name) for p in sorted(shard_dir.iterdir())]
        assert len(ranges) >= 3
        for prev, nxt in itertools.pairwise(ranges):
            assert prev.last_t < nxt.first_t
        rows = _read_log(world, shard_dir.name)
        ts = [r["t"] for r in rows]
        assert ts == sorted(ts)
        assert replay_violations(rows, CARD_ONE, TX_INSTANT, TX_PARTITION_BASE) == []
        # Realistic shape: updates, whole-entity retractions, unicode and empty values.
        assert any(not r["added"] for r in rows)
    everything = [r for d in (world / "logs").iterdir() for r in _read_log(world, d.name)]
    values = {r["v"] for r in everything}
    assert "" in values and any(not v.isascii() for v in values)


def test_catalog_and_caches_match_the_log(world: Path) -> None:
    truth = _truth(world)
    txs = FileCatalog(LocalStore(world / "catalog")).transactions()
    assert 3 <= len(txs) <= 4 and txs[-1].status == "failed"
    chosen = pick_transaction(txs)
    assert chosen.id == truth["transaction"]
    broken = {f["entry"]: f["kind"] for f in truth["faults"]}
    logs: dict[str, list[dict]] = {}
    for tx in txs:
        assert len(tx.datasets) == len(truth["entries"])
        for d in tx.datasets:
            name = f"{d.dataset}/{d.kind}"
            fault = broken.get(name) if tx is chosen else None
            assert re.fullmatch(r"[A-Za-z0-9_-]{22}", d.path)
            if fault in ("missing-source", "bad-parquet", "corrupt-cache"):
                continue
            log = logs.setdefault(d.dataset, _read_log(world, d.dataset))
            cached = _read_dataset(world, d.path)
            data_t = max(cached.column("t").to_pylist())
            if fault == "stale-t":
                assert d.t != data_t
                assert truth["faults"][[f["entry"] for f in truth["faults"]].index(name)]["effect"] == {"catalog_t": d.t, "data_t": data_t}
            else:
                assert d.t == data_t
            assert any(r["t"] > data_t for r in log), "newer log must exist beyond T"
            if d.kind == "log":
                assert _rows(cached) == Counter(tuple(r.values()) for r in log if r["t"] <= data_t)
                assert cached.column("t").to_pylist() == sorted(cached.column("t").to_pylist())
            else:
                assert set(_rows(cached)) == materialize_reference(log, data_t)
                assert cached.num_rows == len(set(_rows(cached)))
            if tx is chosen:
                assert truth["entries"][name]["rows"] == cached.num_rows
                assert truth["entries"][name]["t"] == data_t


def test_each_fault_does_what_truth_says(world: Path) -> None:
    truth = _truth(world)
    faults = truth["faults"]
    assert Counter(f["kind"] for f in faults) == Counter(ALL_FAULTS)
    assert len({f["entry"] for f in faults}) == len(faults)
    config = load_config(world / "campaign.toml")
    for f in faults:
        entry = truth["entries"][f["entry"]]
        assert f["cache_id"] == entry["cache_id"]
        where = world / "ephemeral" / f["cache_id"]
        if f["kind"] == "missing-source":
            assert not where.exists()
            assert f["effect"]["source_url"] == LocalStore(world / "ephemeral").url_of(f["cache_id"])
        elif f["kind"] == "missing-copy":
            assert expiring_ids(config) == (f["cache_id"],)
            assert where.is_dir()
        elif f["kind"] == "bad-parquet":
            path = world / "ephemeral" / f["effect"]["file_key"]
            assert path.stat().st_size == f["effect"]["size_after"] == f["effect"]["size_before"] // 2
            with pytest.raises(pa.ArrowInvalid):
                pq.read_table(path)
        elif f["kind"] == "corrupt-cache":
            effect = f["effect"]
            log = _read_log(world, entry["dataset"])
            if entry["kind"] == "log":
                want = Counter(tuple(r.values()) for r in log if r["t"] <= entry["t"])
            else:
                want = Counter(materialize_reference(log, entry["t"]))
            got = _rows(_read_dataset(world, f["cache_id"]))
            assert sum(want.values()) == effect["rows_expected"] == entry["rows"]
            assert sum(got.values()) == effect["rows_written"]
            assert sum((want - got).values()) == effect["missing"]
            assert sum((got - want).values()) == effect["extra"] + effect["duplicated"]
            assert sum(1 for row, n in got.items() if n > 1) == effect["duplicated"]
            assert max(r[3] for r in got) == entry["t"]
    kinds = {truth["entries"][f["entry"]]["kind"] for f in faults if f["kind"] == "corrupt-cache"}
    assert kinds == {"log", "materialized-entities"} or len(kinds) == 1


def test_registry_and_campaign_file(world: Path) -> None:
    truth = _truth(world)
    text = (world / "registry" / "LogCacheEntries.scala").read_text()
    head = [
        "package common_etl.log_cache",
        "",
        "object LogCacheEntries {",
        "  // BEGIN LOG CACHE ENTRIES (maintained by `logcache registry export`)",
        "  val entries: Map[String, LogCacheEntry] = Map(",
    ]
    lines = text.split("\n")
    assert lines[:5] == head and lines[-4:] == ["  )", "  // END LOG CACHE ENTRIES", "}", ""]
    pattern = re.compile(r'    "([a-z0-9-]+/(?:log|materialized-entities))" -> LogCacheEntry\(t = (\d+)L, path = "([^"]+)"\),')
    parsed = [pattern.fullmatch(line) for line in lines[5:-4]]
    assert all(parsed)
    names = [m.group(1) for m in parsed]  # type: ignore[union-attr]
    assert names == sorted(names)
    current = truth["entries"]
    assert set(names) - set(current), "kept entries for datasets no longer catalogued"
    assert set(current) - set(names), "new shards absent from the registry"
    for m in parsed:
        if m.group(1) in current:  # type: ignore[union-attr]
            assert int(m.group(2)) < current[m.group(1)]["t"]  # type: ignore[union-attr]
            assert m.group(3).rsplit("/", 1)[-1] != current[m.group(1)]["cache_id"]  # type: ignore[union-attr]
    config = load_config(world / "campaign.toml")
    assert Path(config.source) == world / "ephemeral"
    assert Path(config.destination) == world / "permanent" / "cache"
    assert Path(config.logs) == world / "logs" and Path(config.catalog) == world / "catalog"
    assert config.registry == world / "registry" / "LogCacheEntries.scala"
    assert config.validation.parcel_count == 3


def test_expiring_store_replays_the_lifecycle_sequence(tmp_path: Path) -> None:
    source = LocalStore(tmp_path / "src")
    source.write_bytes("doomed/part-00000.parquet", b"x")
    source.write_bytes("kept/part-00000.parquet", b"y")
    inner = LocalStore(tmp_path / "dst")
    dest = ExpiringStore(inner, ("doomed",), tmp_path / "marks")

    def copy(cache_id: str) -> None:
        dest.copy_from(source, f"{cache_id}/part-00000.parquet", f"{cache_id}/part-00000.parquet")

    assert list(dest.list("doomed")) == []  # before copying: nothing recorded
    copy("doomed")
    copy("kept")
    assert [o.key for o in dest.list("doomed/")] == ["doomed/part-00000.parquet"]  # verify: seen
    assert list(dest.list("doomed")) == []  # validation: gone
    assert not (tmp_path / "dst" / "doomed" / "part-00000.parquet").exists()
    assert [o.key for o in dest.child("kept").list()] == ["part-00000.parquet"]
    copy("doomed")  # the re-copy works for good
    for _ in range(3):
        assert [o.key for o in dest.list("")] == ["doomed/part-00000.parquet", "kept/part-00000.parquet"]
    assert source.exists("doomed/part-00000.parquet")


def _assert_one_line_error(capsys: pytest.CaptureFixture[str], code: int, needle: str) -> None:
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert needle in err
    assert len(err.splitlines()) == 1 or err.startswith("usage:")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--fault", "explode=1"], "unknown fault"),
        (["--fault", "stale-t=zero"], "bad count"),
        (["--fault", "stale-t=0"], "bad count"),
        (["--fault", "corrupt-cache=1000"], "faults asked"),
        (["--campaign-dir", "elsewhere"], "only for s3://"),
        (["--endpoint-url", "http://127.0.0.1:9"], "only applies to an s3://"),
    ],
)
def test_cli_bad_input_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str) -> None:
    code = main(["demo-data", str(tmp_path / "w"), *extra])
    _assert_one_line_error(capsys, code, needle)
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_unknown_scale_and_non_empty_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", str(tmp_path / "w"), "--scale", "huge"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "keep.txt").write_text("mine")
    code = main(["demo-data", str(tmp_path / "w")])
    _assert_one_line_error(capsys, code, "not an empty folder")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keep.txt", "w"]


def test_cli_s3_target_needs_campaign_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo-data", "s3://demo-bucket/w", "--endpoint-url", "http://127.0.0.1:9"])
    _assert_one_line_error(capsys, code, "--campaign-dir")


def test_cli_unreachable_endpoint_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code = main(["demo-data", "s3://demo-bucket/w", "--endpoint-url", "http://127.0.0.1:9", "--campaign-dir", str(tmp_path / "c")])
    _assert_one_line_error(capsys, code, "no S3 server answered at http://127.0.0.1:9")
    assert list(tmp_path.iterdir()) == []


def test_console_script_builds_and_fails_cleanly(tmp_path: Path) -> None:
    exe = shutil.which("logcache")
    assert exe, "the logcache console script is installed"
    ok = subprocess.run([exe, "demo-data", str(tmp_path / "w"), "--seed", "3"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert f"Next: logcache transactions {tmp_path / 'w' / 'campaign.toml'}" in ok.stdout
    bad = subprocess.run([exe, "demo-data", str(tmp_path / "w")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "not an empty folder" in bad.stderr and "Error" not in bad.stderr


def test_world_under_s3_prefix(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("logcache.storage.s3")
    try:
        endpoint = request.getfixturevalue("s3_endpoint")
    except pytest.FixtureLookupError:
        pytest.skip("the shared s3_endpoint fixture (tests/conftest.py) is not available")
    import boto3

    url = endpoint if isinstance(endpoint, str) else endpoint.url
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(var, __import__("os").environ.get(var, value))
    client = boto3.client("s3", endpoint_url=url)
    client.create_bucket(Bucket="demo-world")
    assert main(["demo-data", "s3://demo-world/w", "--endpoint-url", url, "--campaign-dir", str(tmp_path / "c"), "--fault", "missing-source=1"]) == 0
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket="demo-world") for o in page.get("Contents", [])]
    assert all(k.startswith("w/") for k in keys)
    assert {k.split("/")[1] for k in keys} == {"catalog", "ephemeral", "logs"}
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["campaign.toml", "registry", "truth.json"]
    config = load_config(tmp_path / "c" / "campaign.toml")
    assert config.source == "s3://demo-world/w/ephemeral" and config.s3.endpoint_url == url
    truth = _truth(tmp_path / "c")
    missing = truth["faults"][0]["cache_id"]
    assert not any(k.startswith(f"w/ephemeral/{missing}/") for k in keys)
    assert sum(1 for k in keys if k.startswith("w/catalog/")) == len(truth["transactions"])


def test_a_streamed_shard_is_as_consistent_as_a_whole_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`xlarge` writes its heaviest shard block by block; here a tiny world does the same
    with blocks of 300 datoms, and every check of a whole-built world holds for it."""
    from logcache.demo import world as world_module

    monkeypatch.setattr(world_module, "_STREAMED_SCALES", frozenset({"tiny"}))
    monkeypatch.setattr(world_module, "_BLOCK_DATOMS", 300)
    root = tmp_path / "w"
    summary = build_world(str(root), seed=11, scale="tiny")
    heaviest, datoms = summary.largest_shard
    assert datoms > 2 * 300 and _truth(root)["shards"][heaviest]["datoms"] == datoms
    test_logs_follow_datomic_rules(root)
    test_catalog_and_caches_match_the_log(root)
    with pytest.raises(UsageError, match="takes no --fault"):
        build_world(str(tmp_path / "f"), seed=11, scale="tiny", faults={"corrupt-cache": 1})
