"""The prediction model on recorded measurements: units that shared a machine are
calibrated on their time alone, and a parcel's duration is its units' span in the
schedule the backend runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from logcache.validation.budget import Budget
from logcache.validation.plan import Parcel, Task
from logcache.validation.predict import Measurement, Throughput, calibrate, predict, schedule

FIXED_S, PER_BYTE = 0.2, 1e-7  # the machine's truth: seconds alone = 0.2 + bytes * 1e-7
EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def _task(shard: str, weight: int) -> Task:
    return Task(shard, "log", "log-validation", 0, 1, weight)


def _parcels() -> list[Parcel]:
    weights = [[9_000_000, 1_000_000], [6_000_000, 5_000_000, 500_000], [3_000_000, 2_000_000, 2_500_000]]
    return [Parcel(i, tuple(_task(f"raw-s{i}-{j}", w) for j, w in enumerate(ws))) for i, ws in enumerate(weights)]


def _recorded(parcels: list[Parcel], at_once: int) -> list[Measurement]:
    """What a run of `parcels` records when `at_once` units share the machine, as
    `schedule` plays it (heaviest first), each unit's time the machine's truth."""
    units = sorted(((p, t) for p in parcels for t in p.tasks), key=lambda pt: -pt[1].weight)
    spans = schedule([FIXED_S + t.weight * PER_BYTE for _, t in units], at_once)
    out = []
    for (parcel, task), (start, end) in zip(units, spans):
        at = datetime.fromtimestamp(EPOCH + end, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out.append(Measurement(str(parcel.parcel_id), task.task_id, task.weight, task.weight // 8, end - start, 300 << 20, at, at_once))
    return out


def test_schedule_shares_the_machine() -> None:
    # Two of 1 s and 3 s at once: both at half speed until the first ends at 2 s, then
    # the other alone: it has 2 s left, ends at 4 s.
    assert schedule([3.0, 1.0], 2) == [(0.0, 4.0), (0.0, 2.0)]
    assert schedule([3.0, 1.0, 2.0], 1) == [(0.0, 3.0), (3.0, 4.0), (4.0, 6.0)]


@pytest.mark.parametrize("at_once", [1, 2, 3])
def test_calibration_removes_the_sharing_and_predicts_each_parcel(at_once: int, tmp_path: Path) -> None:
    parcels = _parcels()
    measured = _recorded(parcels, at_once)
    throughput = calibrate(measured)
    assert throughput is not None
    # Without the sharing taken out, 3 at once would read as 3x slower.
    assert throughput.seconds_per_byte == pytest.approx(PER_BYTE, rel=0.05)
    assert throughput.fixed_s == pytest.approx(FIXED_S, rel=0.05, abs=0.02)
    actual: dict[str, list[tuple[float, float]]] = {}
    for m in measured:
        actual.setdefault(m.parcel, []).append(m.interval)
    predicted = predict(parcels, throughput, Budget(1 << 30, tmp_path), at_once=at_once)
    for p in predicted:
        spans = actual[p.label]
        wall = max(e for _, e in spans) - min(s for s, _ in spans)
        assert p.seconds == pytest.approx(wall, rel=0.05)


def test_without_a_shared_machine_a_parcel_runs_its_units_in_turn(tmp_path: Path) -> None:
    throughput = Throughput(FIXED_S, PER_BYTE, 0.125, 300 << 20, "history")
    predicted = predict(_parcels(), throughput, Budget(1 << 30, tmp_path))
    assert [p.seconds for p in predicted] == pytest.approx([sum(FIXED_S + t.weight * PER_BYTE for t in p.tasks) for p in _parcels()])


def test_measurements_recorded_without_concurrency_are_read_from_their_overlaps() -> None:
    measured = [replace(m, concurrency=None) for m in _recorded(_parcels(), 3)]
    throughput = calibrate(measured)
    assert throughput is not None
    assert throughput.seconds_per_byte == pytest.approx(PER_BYTE, rel=0.05)
