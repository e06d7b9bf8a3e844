"""Every finding in view: `logcache failures` lists each invalid pair with its counts,
`logcache show` prints one result in full with the sampled datoms and where they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logcache.cli import main
from logcache.datomic.schema import VALIDATIONS
from logcache.demo import build_world
from logcache.demo.faults import ALTERED_MARK
from logcache.entries import CSV_NAME, read_entries
from logcache.errors import UnknownDataset
from logcache.validation.detail import pair_detail, render_detail
from state.config import load_config


@pytest.fixture(scope="module")
def corrupt_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("detail") / "w"
    build_world(str(root), seed=11, scale="tiny", faults={"corrupt-cache": 2, "stale-t": 1})
    campaign = root / "campaign.toml"
    assert main(["discover", str(campaign)]) == 0
    assert main(["copy", str(campaign)]) == 0
    assert main(["validate", str(campaign), "--parcel-count", "2"]) == 1
    return root


def _faults(root: Path, kind: str) -> list[dict]:
    return [f for f in json.loads((root / "truth.json").read_text())["faults"] if f["kind"] == kind]


def _pair(fault: dict) -> str:
    dataset, kind = fault["entry"].rsplit("/", 1)
    return f"{dataset}/{VALIDATIONS[kind]}"


def test_failures_lists_every_invalid_pair_with_its_counts(corrupt_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["failures", str(corrupt_world / "campaign.toml")]) == 1  # findings (README, exit codes)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("invalid")]
    assert len(lines) == 3
    for fault in _faults(corrupt_world, "corrupt-cache"):
        line = next(line for line in lines if f" {_pair(fault)} " in line)
        effect = fault["effect"]
        assert "mismatch" in line
        assert f"missing {effect['missing']}, extra {effect['extra']}, duplicates {effect['duplicated']}" in line
    assert any("t-mismatch" in line and _pair(_faults(corrupt_world, "stale-t")[0]) in line for line in lines)


def test_show_prints_the_sample_datoms_and_their_sources(corrupt_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fault = next(f for f in _faults(corrupt_world, "corrupt-cache") if f["entry"].endswith("/log"))
    pair = _pair(fault)
    campaign = str(corrupt_world / "campaign.toml")
    capsys.readouterr()
    assert main(["show", campaign, pair]) == 1
    out = capsys.readouterr().out
    altered = fault["effect"]["altered_rows"][0]["after"]
    assert f"{pair}: INVALID (mismatch)" in out
    assert f"v={altered['v']!r} t={altered['t']}" in out and f"e={altered['e']}" in out
    assert f"rerun: logcache validate {campaign} --force --filter-by-name {pair}" in out
    assert main(["show", campaign, pair, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["missing"] == fault["effect"]["missing"] and data["t"] > 0
    extra = [s for s in data["sample_extra"] if s["kind"] == "extra"]
    assert extra and extra[0]["v"].startswith(ALTERED_MARK) and extra[0]["source"].endswith(".parquet")
    assert (corrupt_world / "permanent").as_posix() in extra[0]["source"]
    missing = data["sample_missing"]
    dropped = {(r["e"], r["a"], r["v"], r["t"]) for r in fault["effect"]["dropped_rows"]} | {
        (altered["e"], altered["a"], altered["v"].removeprefix(ALTERED_MARK), altered["t"])
    }
    assert missing and all((m["e"], m["a"], m["v"], m["t"]) in dropped for m in missing)
    assert all(m["source"].endswith(".avro") and "/logs/" in m["source"] for m in missing)


def test_pair_detail_of_a_valid_pair_and_an_unknown_one(corrupt_world: Path) -> None:
    config = load_config(corrupt_world / "campaign.toml")
    entries = read_entries(corrupt_world / CSV_NAME)
    broken = {_pair(f) for f in json.loads((corrupt_world / "truth.json").read_text())["faults"]}
    pair = next(e.pair for e in entries if e.pair not in broken)
    detail = pair_detail(config, entries, pair)
    assert detail.is_valid and detail.error_kind == "none" and not detail.sample_missing and not detail.sample_extra
    assert render_detail(detail)[0] == f"{pair}: valid"
    with pytest.raises(UnknownDataset) as raised:
        pair_detail(config, entries, pair.replace("-s", "-x"))
    assert "\n" not in str(raised.value) and "did you mean" in str(raised.value)


def test_show_of_an_unknown_pair_is_one_line_exit_2(corrupt_world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["show", str(corrupt_world / "campaign.toml"), "raw-nope-s0/log-validation"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("logcache: no pair ") and err.count("\n") == 1
