"""What each unit of validation measured, and the plan's predictions made from it.

Every unit that ran records its bytes, datoms, seconds and the peak RSS of its process
in `<work_dir>/measurements.jsonl` (append-only, the latest `KEEP` kept). A plan's
prediction fits seconds = fixed + bytes / throughput over that history (this machine's
throughput, whatever the world); with no history it decodes one segment of the heaviest
shard as a quick sample. Peak memory is the fixed cost measured plus what a fold of the
unit's datoms holds, never more than the worker's budget (`budget.Budget`).

`validate` writes the predictions of the parcels it starts (`predictions.json`);
`parcel_forecasts` sets them against the measured units of that run, for `status` and
the app.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from logcache.datomic.logop import list_segments
from logcache.entries import CacheEntry
from logcache.storage import Store
from logcache.stores import open_logs
from logcache.validation.budget import DATOMS_PER_BYTE, FOLD_BYTES_PER_DATOM, Budget, budget_of
from logcache.validation.plan import Parcel, units
from logcache.validation.result import utc_now
from logcache.validation.scan import decode
from state.config import CampaignConfig

MEASUREMENTS = "measurements.jsonl"
PREDICTIONS = "predictions.json"
KEEP = 2000
# Without history: a unit costs this many times decoding its segments (the cache side,
# the fold and the imports come on top), and a process this much fixed memory.
SAMPLE_WORK_FACTOR = 2.0
FIXED_RSS = 260 << 20


@dataclass(frozen=True)
class Measurement:
    parcel: str
    unit: str
    bytes: int
    datoms: int
    seconds: float
    peak_rss: int
    at: str


def peak_rss() -> int:
    """This process's peak resident memory so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def record(work_dir: Path, measurement: Measurement) -> None:
    """Append one measurement; past 2 x KEEP lines, keep the latest KEEP (under a lock,
    since the units of a run record from several processes)."""
    path = work_dir / MEASUREMENTS
    work_dir.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(json.dumps(asdict(measurement)) + "\n")
        f.flush()
        f.seek(0)
        lines = f.readlines()
        if len(lines) > 2 * KEEP:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text("".join(lines[-KEEP:]), encoding="utf-8")
            os.replace(tmp, path)


def read_measurements(work_dir: Path) -> list[Measurement]:
    path = work_dir / MEASUREMENTS
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(Measurement(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut by a kill mid-write
    return out


@dataclass(frozen=True)
class Throughput:
    """seconds = fixed_s + bytes * seconds_per_byte for one unit, and what it holds."""

    fixed_s: float
    seconds_per_byte: float
    datoms_per_byte: float
    fixed_rss: int
    source: str  # "history (N units)" or "sample"

    def seconds(self, nbytes: int) -> float:
        return self.fixed_s + nbytes * self.seconds_per_byte


def calibrate(measurements: list[Measurement]) -> Throughput | None:
    """A least-squares line through the units' (bytes, seconds); None without history."""
    usable = [m for m in measurements if m.bytes > 0 and m.seconds > 0]
    if not usable:
        return None
    n = len(usable)
    mean_b = sum(m.bytes for m in usable) / n
    mean_s = sum(m.seconds for m in usable) / n
    var = sum((m.bytes - mean_b) ** 2 for m in usable)
    slope = sum((m.bytes - mean_b) * (m.seconds - mean_s) for m in usable) / var if var else 0.0
    fixed = mean_s - slope * mean_b
    if slope <= 0 or fixed < 0:
        # Too few or too alike units for a line: all the time is proportional to bytes.
        slope, fixed = sum(m.seconds for m in usable) / sum(m.bytes for m in usable), 0.0
    datoms = sum(m.datoms for m in usable) / sum(m.bytes for m in usable)
    return Throughput(fixed, slope, datoms or DATOMS_PER_BYTE, min(m.peak_rss for m in usable), f"history ({n} units)")


def sample(logs: Store, entries: list[CacheEntry]) -> Throughput:
    """Decode one segment of the heaviest shard and time it: the quick calibration."""
    heaviest = max(entries, key=lambda e: e.bytes)
    segments = list_segments(logs, heaviest.dataset)
    segment = max(segments, key=lambda s: s.size)
    clock = time.perf_counter()
    decoded = decode(logs, segment)
    seconds = time.perf_counter() - clock
    size = max(1, segment.size)
    return Throughput(0.0, seconds * SAMPLE_WORK_FACTOR / size, decoded.table.num_rows / size, FIXED_RSS, "sample")


@dataclass(frozen=True)
class ParcelPrediction:
    label: str
    bytes: int
    datoms: int
    seconds: float
    peak_memory: int
    machine_hours: float | None = None
    cost: float | None = None


def predict(
    parcels: list[Parcel], throughput: Throughput, budget: Budget, nodes: int | None = None, hourly_cost: float | None = None, prefix: str = ""
) -> list[ParcelPrediction]:
    """Each parcel's bytes, datoms, duration (its units one after the other, as a job
    runs them), peak memory and, with `nodes` (and `hourly_cost`), machine-hours and cost."""
    out = []
    for parcel in parcels:
        if not parcel.tasks:
            continue
        loads = [sum(t.weight for t in unit) for unit in units(parcel.tasks)]
        seconds = sum(throughput.seconds(b) for b in loads)
        datoms = round(parcel.bytes * throughput.datoms_per_byte)
        held = min(budget.memory, round(max(loads) * throughput.datoms_per_byte * FOLD_BYTES_PER_DATOM))
        hours = None if nodes is None else seconds / 3600 * nodes
        cost = None if hours is None or hourly_cost is None else hours * hourly_cost
        out.append(ParcelPrediction(f"{prefix}{parcel.parcel_id}", parcel.bytes, datoms, seconds, throughput.fixed_rss + held, hours, cost))
    return out


def write_predictions(work_dir: Path, predictions: list[ParcelPrediction], source: str) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    body = {"at": utc_now(), "source": source, "parcels": [asdict(p) for p in predictions]}
    tmp = work_dir / f"{PREDICTIONS}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
    os.replace(tmp, work_dir / PREDICTIONS)


@dataclass(frozen=True)
class ParcelForecast:
    """One parcel of the latest run: predicted against measured (None: not measured yet)."""

    label: str
    bytes: int
    datoms: int
    predicted_s: float
    predicted_peak: int
    actual_s: float | None
    actual_peak: int | None

    @property
    def error(self) -> float | None:
        """(actual - predicted) / actual: 0.3 is 30% under."""
        return None if not self.actual_s else (self.actual_s - self.predicted_s) / self.actual_s


def parcel_forecasts(work_dir: Path) -> list[ParcelForecast]:
    """The latest run's predictions per parcel, each with what its units measured."""
    path = work_dir / PREDICTIONS
    if not path.exists():
        return []
    body = json.loads(path.read_text(encoding="utf-8"))
    since = body["at"]
    measured: dict[str, list[Measurement]] = {}
    for m in read_measurements(work_dir):
        if m.at >= since:
            measured.setdefault(m.parcel, []).append(m)
    out = []
    for p in body["parcels"]:
        mine = measured.get(p["label"], [])
        out.append(
            ParcelForecast(
                p["label"],
                p["bytes"],
                p["datoms"],
                p["seconds"],
                p["peak_memory"],
                sum(m.seconds for m in mine) if mine else None,
                max(m.peak_rss for m in mine) if mine else None,
            )
        )
    return out


def forecast(config: CampaignConfig, entries: list[CacheEntry], parcels: list[Parcel], prefix: str = "") -> tuple[list[ParcelPrediction], str]:
    """The parcels' predictions on this machine, and where the throughput came from."""
    throughput = calibrate(read_measurements(config.work_dir)) or sample(open_logs(config), entries)
    submitter = config.submitter
    return predict(parcels, throughput, budget_of(config), submitter.nodes, submitter.hourly_cost, prefix), throughput.source
