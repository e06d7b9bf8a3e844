"""What each unit of validation measured, and the plan's predictions made from it.

Every unit that ran records its bytes, datoms, seconds, the peak RSS of its process and
how many units the backend ran at once on its machine in `<work_dir>/measurements.jsonl`
(append-only, the latest `KEEP` kept). Units running at once share the machine's cores,
so a unit's time is its time alone times the units beside it (`_shared`: the recorded
count, or fewer where the recorded intervals show fewer overlapping, at the end of a
run). A plan's prediction fits seconds alone = fixed + bytes / throughput over that
history (this machine's throughput, whatever the world); with no history it decodes one
segment of the heaviest shard as a quick sample. Each parcel's duration is then the span
of its units in the schedule the backend will run (`schedule`: the local backend's units
heaviest first, as many at once as it runs, sharing the machine; elsewhere a parcel's
units one after another on its own machine). Peak memory is the fixed cost measured plus
what a fold of the unit's datoms holds, never more than the worker's budget
(`budget.Budget`).

`validate` writes the predictions of the parcels it starts (`predictions.json`);
`parcel_forecasts` sets them against the measured units of that run, for `status` and
the app.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import resource
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from logcache.entries import CacheEntry
from logcache.storage import Store
from logcache.stores import open_logs
from logcache.validation.budget import DATOMS_PER_BYTE, FOLD_BYTES_PER_DATOM, Budget, budget_of
from logcache.validation.plan import Parcel, local_concurrency, units
from logcache.validation.result import utc_now
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
    at: str  # when it ended
    # Units the backend ran at once on this machine; None in lines recorded before it was
    # (their overlapping intervals tell instead).
    concurrency: int | None = None

    @property
    def interval(self) -> tuple[float, float]:
        end = datetime.fromisoformat(self.at).timestamp()
        return end - self.seconds, end


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


def _shared(measurements: list[Measurement]) -> list[float]:
    """How many units, on average over its run, each unit shared its machine with
    (itself included): what the intervals recorded overlap, at most its `concurrency`
    (units of other machines overlap too, and are not counted beyond it)."""
    spans = [m.interval for m in measurements]
    out = []
    for m, (start, end) in zip(measurements, spans):
        if (m.concurrency is not None and m.concurrency <= 1) or end <= start:
            out.append(1.0)
            continue
        overlap = sum(max(0.0, min(end, e) - max(start, s)) for s, e in spans)
        cap = math.inf if m.concurrency is None else float(m.concurrency)
        out.append(max(1.0, min(cap, overlap / (end - start))))
    return out


def calibrate(measurements: list[Measurement]) -> Throughput | None:
    """A least-squares line through the units' (bytes, seconds alone); None without history."""
    usable = [m for m in measurements if m.bytes > 0 and m.seconds > 0]
    if not usable:
        return None
    n = len(usable)
    alone = [m.seconds / shared for m, shared in zip(usable, _shared(usable))]
    mean_b = sum(m.bytes for m in usable) / n
    mean_s = sum(alone) / n
    var = sum((m.bytes - mean_b) ** 2 for m in usable)
    slope = sum((m.bytes - mean_b) * (s - mean_s) for m, s in zip(usable, alone)) / var if var else 0.0
    fixed = mean_s - slope * mean_b
    if slope <= 0 or fixed < 0:
        # Too few or too alike units for a line: all the time is proportional to bytes.
        slope, fixed = sum(alone) / sum(m.bytes for m in usable), 0.0
    datoms = sum(m.datoms for m in usable) / sum(m.bytes for m in usable)
    return Throughput(fixed, slope, datoms or DATOMS_PER_BYTE, min(m.peak_rss for m in usable), f"history ({n} units)")


def sample(logs: Store, entries: list[CacheEntry]) -> Throughput:
    """Decode one segment of the heaviest shard and time it: the quick calibration."""
    # Here, not at the top: `status` and the plan read predictions without decoding.
    from logcache.datomic.logop import list_segments
    from logcache.validation.scan import decode

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


def schedule(work: list[float], at_once: int) -> list[tuple[float, float]]:
    """(start, end) of each piece of `work` (seconds alone, in the order they start) when
    `at_once` run together and share the machine equally: each of n running advances
    at 1/n of its speed alone."""
    out: list[tuple[float, float]] = [(0.0, 0.0)] * len(work)
    running: dict[int, float] = {}  # index -> seconds alone left
    now, upcoming = 0.0, iter(range(len(work)))
    while True:
        for i in upcoming:
            running[i], out[i] = work[i], (now, now)
            if len(running) == at_once:
                break
        if not running:
            return out
        step = min(running.values())
        now += step * len(running)
        for i, left in list(running.items()):
            if left - step <= 1e-12:
                out[i] = (out[i][0], now)
                del running[i]
            else:
                running[i] = left - step


def predict(
    parcels: list[Parcel],
    throughput: Throughput,
    budget: Budget,
    nodes: int | None = None,
    hourly_cost: float | None = None,
    prefix: str = "",
    at_once: int | None = None,
) -> list[ParcelPrediction]:
    """Each parcel's bytes, datoms, duration, peak memory and, with `nodes` (and
    `hourly_cost`), machine-hours and cost. The duration: with `at_once`, the span of the
    parcel's units when every parcel's units run heaviest first, `at_once` of them
    sharing one machine (the local backend); without, its units one after another (a job
    of the command backend, or a Dask worker, on a machine of its own)."""
    live = [p for p in parcels if p.tasks]
    pieces = [(i, sum(t.weight for t in unit)) for i, p in enumerate(live) for unit in units(p.tasks)]
    spans: dict[int, list[tuple[float, float]]] = {}
    if at_once is not None:
        pieces.sort(key=lambda piece: -piece[1])
        for (i, _), span in zip(pieces, schedule([throughput.seconds(b) for _, b in pieces], at_once)):
            spans.setdefault(i, []).append(span)
    out = []
    for i, parcel in enumerate(live):
        loads = [b for j, b in pieces if j == i]
        if at_once is None:
            seconds = sum(throughput.seconds(b) for b in loads)
        else:
            seconds = max(e for _, e in spans[i]) - min(s for s, _ in spans[i])
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
        spans = [m.interval for m in mine]
        out.append(
            ParcelForecast(
                p["label"],
                p["bytes"],
                p["datoms"],
                p["seconds"],
                p["peak_memory"],
                # From its first unit's start to its last unit's end: its units may run
                # side by side, or beside other parcels' units.
                max(e for _, e in spans) - min(s for s, _ in spans) if mine else None,
                max(m.peak_rss for m in mine) if mine else None,
            )
        )
    return out


def forecast(config: CampaignConfig, entries: list[CacheEntry], parcels: list[Parcel], prefix: str = "") -> tuple[list[ParcelPrediction], str]:
    """The parcels' predictions on this machine, and where the throughput came from."""
    throughput = calibrate(read_measurements(config.work_dir)) or sample(open_logs(config), entries)
    submitter = config.submitter
    at_once = None
    if config.validation.backend == "local":
        count = sum(len(units(p.tasks)) for p in parcels)
        at_once = local_concurrency(config.validation.workers, count, sum(p.bytes for p in parcels), os.cpu_count() or 1)
    return predict(parcels, throughput, budget_of(config), submitter.nodes, submitter.hourly_cost, prefix, at_once), throughput.source
