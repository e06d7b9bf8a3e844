"""Conditions a real refresh meets, rehearsed in demo worlds (logcache/demo/faults.py):
Spark's markers and temporary output, every Avro codec fastavro reads, empty datasets,
and a shard's log with a gap or an overlap. Each is read right: valid where the data is,
and a broken log is a finding about the log, never about the cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_robust_input import logcache

from logcache.demo import build_world


def world_with(tmp_path: Path, **faults: int) -> tuple[Path, dict[str, Any]]:
    root = tmp_path / "w"
    build_world(str(root), seed=5, scale="tiny", faults={k.replace("_", "-"): n for k, n in faults.items()})
    return root / "campaign.toml", json.loads((root / "truth.json").read_text(encoding="utf-8"))


def test_spark_markers_codecs_and_an_empty_dataset_are_all_valid(tmp_path: Path) -> None:
    campaign, truth = world_with(tmp_path, spark_temporary=1, codec_bzip2=1, codec_xz=1, codec_zstandard=1, empty_dataset=1)
    discover = logcache("discover", str(campaign))
    assert discover.returncode == 0 and "finding" not in discover.stdout, discover.stdout + discover.stderr
    copy = logcache("copy", str(campaign))
    assert copy.returncode == 0, copy.stdout + copy.stderr
    validate = logcache("validate", str(campaign))
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "36 pairs: 36 valid, 0 invalid, 0 not checked" in validate.stdout
    assert "None" not in validate.stdout
    # The copy carries Spark's markers, never an unfinished task's output.
    (spark,) = [f for f in truth["faults"] if f["kind"] == "spark-temporary"]
    copied = {p.relative_to(tmp_path / "w" / "permanent" / "cache" / spark["cache_id"]).as_posix()
              for p in (tmp_path / "w" / "permanent" / "cache" / spark["cache_id"]).rglob("*") if p.is_file()}
    assert "_SUCCESS" in copied and ".part-00000.parquet.crc" in copied
    assert not [k for k in copied if "_temporary" in k], copied


def test_an_empty_dataset_whose_catalog_t_is_above_0_is_flagged_by_discover(tmp_path: Path) -> None:
    campaign, truth = world_with(tmp_path, empty_with_t=1)
    (fault,) = truth["faults"]
    discover = logcache("discover", str(campaign))
    assert f"{fault['entry']}: t-mismatch: the catalog records t = {fault['effect']['catalog_t']}" in discover.stdout, discover.stdout
    assert "holds no rows" in discover.stdout
    assert logcache("copy", str(campaign)).returncode == 0
    validate = logcache("validate", str(campaign))
    assert validate.returncode == 1 and "None" not in validate.stdout, validate.stdout


@pytest.mark.parametrize("kind", ["log-gap", "log-overlap"])
def test_a_gap_or_an_overlap_in_the_log_is_a_finding_about_the_log(tmp_path: Path, kind: str) -> None:
    campaign, truth = world_with(tmp_path, **{kind.replace("-", "_"): 1})
    (fault,) = truth["faults"]
    shard = fault["shard"]
    for command in ("discover", "copy"):
        assert logcache(command, str(campaign)).returncode == 0
    validate = logcache("validate", str(campaign))
    assert validate.returncode == 1, validate.stdout + validate.stderr
    lines = [line for line in validate.stdout.splitlines() if line.startswith("INVALID")]
    assert lines and all(line.startswith(f"INVALID {shard}/") and f": {kind}: " in line for line in lines), lines
    if kind == "log-gap":
        # The missing segment's t range lies inside the gap named.
        gap = next(line for line in lines if "has no segment for t" in line).split("has no segment for t ")[1].split(":")[0]
        lo, hi = map(int, gap.split("-"))
        assert lo <= fault["effect"]["first_t"] and fault["effect"]["last_t"] <= hi
        assert f"log of {shard} has no segment for t" in lines[0]
    else:
        first, second = fault["effect"]["segments"]
        assert f"segments {first} and {second} of {shard} overlap in t" in lines[0]
    assert all("the log is not whole" in line for line in lines)
    failures = logcache("failures", str(campaign))
    assert f"{kind}" in failures.stdout and "the log is not whole" in failures.stdout
    pair = lines[0].split()[1].rstrip(":")
    show = logcache("show", str(campaign), pair)
    assert f"INVALID ({kind})" in show.stdout and "the log is not whole" in show.stdout, show.stdout
