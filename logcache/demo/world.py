"""Build a whole demo campaign world, deterministically for a seed.

Layout under the target (a local folder or an `s3://bucket/prefix`):

    logs/<shard>/segment-<first t>-<last t>.avro   every shard's full log
    catalog/<transaction id>.json                  the nightly runs
    ephemeral/<cache id>/part-NNNNN.parquet        every run's log and materialized entities
    permanent/                                     the (empty) destination's parent
    registry/LogCacheEntries.scala, campaign.toml, truth.json
                                                   beside the data, or in --campaign-dir for S3

A local world is built in a hidden sibling folder and renamed into place at the end, so a
failure leaves nothing behind. An S3 world is checked (endpoint reachable, prefix empty)
before its first write.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from logcache.catalog import CatalogDataset, Transaction
from logcache.datomic.schema import KINDS, entry_name, segment_key
from logcache.datomic.tables import DATOM_SCHEMA, ENTITY_SCHEMA
from logcache.demo import lifecycle, writers
from logcache.demo.campaign_file import CampaignLocations, render_campaign
from logcache.demo.faults import FAULT_KINDS, LOG_FAULTS, assign_faults, corrupt
from logcache.demo.history import USER_PARTITION_BASE, ShardHistory, generate_shard, transactions_for
from logcache.demo.registry_file import REGISTRY_FILE, RegistryEntry, render_registry
from logcache.errors import UsageError
from logcache.storage import LocalStore, Store, open_store, split_url
from state.config import S3Settings

# Approximate total datoms per scale (the model decides the exact count).
SCALES: dict[str, int] = {"tiny": 3_000, "small": 200_000, "medium": 2_500_000, "large": 27_000_000, "xlarge": 96_000_000}
# The benchmark needs one shard of >= 20M datoms in `large`, and one of >= 4x that in
# `xlarge` (its other shards the size of `large`'s): that shard's share of the world.
_TOP_SHARE: dict[str, float] = {"large": 0.78, "xlarge": 0.94}
# Scales whose shards above _BLOCK_DATOMS are generated and written block by block
# (`_streamed_shard`), so the generator's memory stays that of one block. For benches:
# they take no faults.
_STREAMED_SCALES = frozenset({"xlarge"})
_BLOCK_DATOMS = 6_000_000

# Heavy-tailed, like production: double-entry and feed hold most datoms.
DATABASES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("double-entry", (30, 9, 7, 5)),
    ("feed", (18, 8, 5)),
    ("accounts", (3, 2)),
    ("billing", (2, 2)),
    ("customers", (2, 1)),
    ("ledger-tx", (2, 2)),
    ("notifications", (1,)),
    ("payouts", (1,)),
    ("risk", (1,)),
)
# Shards added since the last refresh (absent from the registry) and one retired shard
# whose entries the registry keeps although no nightly run lists it any more.
NEW_SHARDS = ("raw-feed-s2", "raw-risk-s0")
RETIRED_SHARD = "raw-fx-rates-s0"

# Nightly runs, oldest first: (share of each shard's transactions before the run's T, status).
# The latest run failed, so the refresh must pick the one before it.
RUNS: tuple[tuple[float, str], ...] = ((0.55, "succeeded"), (0.70, "failed"), (0.84, "succeeded"), (0.92, "failed"))
CHOSEN_RUN = 2
_REGISTRY_SHARE = 0.30  # where the previous refresh left the cache, months ago

_SEGMENT_ROWS = 500_000
_LOG_PART_ROWS = 2_000_000
_ENTITY_PART_ROWS = 1_000_000

# Independent random streams, so that e.g. adding a fault never changes the data.
_HISTORY, _IDS, _FAULTS, _CORRUPT, _SYNC = range(5)


@dataclass(frozen=True)
class WorldSummary:
    target: str
    campaign_path: Path
    truth_path: Path
    seed: int
    scale: str
    transaction: str
    runs: int
    shards: int
    databases: int
    datoms: int
    largest_shard: tuple[str, int]
    datasets: int
    chosen_datasets: int
    objects: int
    bytes: int
    faults: tuple[dict[str, object], ...]
    seconds: float


@dataclass
class _Writer:
    """Writes objects and counts them."""

    store: Store
    objects: int = 0
    bytes_written: int = 0

    def put(self, key: str, data: bytes) -> None:
        self.store.write_bytes(key, data)
        self.objects += 1
        self.bytes_written += len(data)


@dataclass
class _Plan:
    seed: int
    scale: str
    shards: list[tuple[str, int]]  # (name, target datoms)
    run_ids: list[str]
    finished_at: list[str]
    faults: dict[str, str]  # entry name -> fault kind
    cache_ids: dict[tuple[int, str], str] = field(default_factory=dict)  # (run, entry) -> id


def _rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])


def _short_id(rng: np.random.Generator) -> str:
    """A 22-character base64url id, like the ETL's dataset ids (16 random bytes)."""
    while True:
        text = base64.urlsafe_b64encode(rng.bytes(16)).decode().rstrip("=")
        # A leading '-' would read as an option on command lines; the ETL's ids can have
        # one, but a demo gains nothing from that trap.
        if text[0] not in "-_":
            return text


def _plan(seed: int, scale: str, faults: dict[str, int]) -> _Plan:
    weights = [(f"raw-{db}-s{k}", w) for db, ws in DATABASES for k, w in enumerate(ws)]
    total = SCALES[scale]
    top = _TOP_SHARE.get(scale)
    all_w = sum(w for _, w in weights)
    rest_w = all_w - weights[0][1]
    shards = []
    for i, (name, w) in enumerate(weights):
        share = w / all_w if top is None else top if i == 0 else (1 - top) * w / rest_w
        shards.append((name, max(60, int(total * share))))
    ids = _rng(seed, _IDS)
    run_ids = [str(uuid.UUID(bytes=ids.bytes(16), version=4)) for _ in RUNS]
    finished_at = [f"2026-11-{17 + i:02d}T04:{int(ids.integers(0, 60)):02d}:00Z" for i in range(len(RUNS))]
    chosen_entries = sorted(entry_name(name, kind) for name, _ in shards for kind in KINDS)
    plan = _Plan(seed, scale, shards, run_ids, finished_at, assign_faults(faults, chosen_entries, _rng(seed, _FAULTS)))
    for r in range(len(RUNS)):
        for entry in chosen_entries:
            plan.cache_ids[(r, entry)] = _short_id(ids)
    return plan


class _Target:
    """Where the world goes: data store, metadata store, and the final URLs to write into files."""

    def __init__(self, target: str, campaign_dir: Path | None, s3: S3Settings | None) -> None:
        scheme, rest = split_url(target)
        self.is_s3 = scheme == "s3"
        self._created_parent: Path | None = None
        if self.is_s3:
            if campaign_dir is None:
                raise UsageError(f"building under {target} needs --campaign-dir LOCAL_DIR for campaign.toml, registry and truth.json")
            self.final = Path(campaign_dir).absolute()
            _require_empty_dir(self.final)
            self.data: Store = open_store(target, s3 or S3Settings())
            # Listing first: an unreachable endpoint or a missing bucket fails before any write.
            if next(iter(self.data.list()), None) is not None:
                raise UsageError(f"{target} is not empty; pick an empty prefix")
            self.final_data: Store = self.data
        else:
            if campaign_dir is not None:
                raise UsageError("--campaign-dir is only for s3:// targets; a local world keeps campaign.toml inside DIR")
            self.final = Path(rest).expanduser().absolute()
            _require_empty_dir(self.final)
            self.final_data = LocalStore(self.final)
        self._tmp = self._make_tmp()
        # Not synced object by object: a build that stops leaves only its temp folder,
        # and a world is built again from its seed.
        self.meta = LocalStore(self._tmp, durable=False)
        if not self.is_s3:
            self.data = self.meta
            (self._tmp / "permanent").mkdir()

    def _make_tmp(self) -> Path:
        parent = self.final.parent
        if not parent.exists():
            missing = parent
            while not missing.parent.exists():
                missing = missing.parent
            self._created_parent = missing
            parent.mkdir(parents=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.building-", dir=parent))
        tmp.chmod(0o755)
        return tmp

    def commit(self) -> None:
        if self.final.exists():
            self.final.rmdir()  # checked empty at the start
        os.replace(self._tmp, self.final)

    def abort(self) -> None:
        shutil.rmtree(self._created_parent or self._tmp, ignore_errors=True)


def _require_empty_dir(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{path} exists and is not an empty folder; pick a new or empty folder")


def build_world(
    target: str,
    seed: int = 7,
    scale: str = "tiny",
    faults: dict[str, int] | None = None,
    campaign_dir: Path | None = None,
    s3: S3Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> WorldSummary:
    """Build a demo world at `target` (a folder or `s3://bucket/prefix`); see the module doc."""
    started = time.monotonic()
    if scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    faults = dict(faults or {})
    for kind, count in faults.items():
        if kind not in FAULT_KINDS or count < 1:
            raise UsageError(f"bad fault {kind}={count}; use KIND=COUNT with KIND one of {', '.join(FAULT_KINDS)}")
    if faults and scale in _STREAMED_SCALES:
        raise UsageError(f"scale {scale} is for benches and takes no --fault; use large or smaller for faults")
    plan = _plan(seed, scale, faults)
    where = _Target(target, campaign_dir, s3)
    try:
        summary = _build(plan, where, s3, progress or (lambda _: None), started)
        where.commit()
    except BaseException:
        where.abort()
        raise
    return summary


def _build(plan: _Plan, where: _Target, s3: S3Settings | None, progress: Callable[[str], None], started: float) -> WorldSummary:
    data = _Writer(where.data)
    meta = _Writer(where.meta)
    ephemeral = where.final_data.child("ephemeral")
    destination = where.final_data.child("permanent/cache")
    catalog: list[list[CatalogDataset]] = [[] for _ in RUNS]
    entries: dict[str, dict[str, object]] = {}
    fault_records: list[dict[str, object]] = []
    shard_info: dict[str, dict[str, int]] = {}
    registry: list[RegistryEntry] = []
    ids = _rng(plan.seed, _IDS, 1)

    for index, (shard, target_datoms) in enumerate(plan.shards):
        progress(f"{shard}: generating about {target_datoms:,} datoms")
        if plan.scale in _STREAMED_SCALES and target_datoms > _BLOCK_DATOMS:
            streamed = _streamed_shard(data, plan, index, shard, target_datoms)
            shard_info[shard] = streamed.info
            for r, t in enumerate(streamed.run_t):
                for kind in KINDS:
                    name = entry_name(shard, kind)
                    catalog[r].append(CatalogDataset(shard, kind, plan.cache_ids[(r, name)], t))
                    if r == CHOSEN_RUN:
                        rows, files = streamed.written[(r, kind)]
                        entries[name] = {"dataset": shard, "kind": kind, "t": t, "catalog_t": t, "cache_id": plan.cache_ids[(r, name)], "rows": rows, "files": files}
            registry.append(RegistryEntry(entry_name(shard, "log"), streamed.registry_t[0], destination.url_of(_short_id(ids))))
            registry.append(RegistryEntry(entry_name(shard, "materialized-entities"), streamed.registry_t[1], destination.url_of(_short_id(ids))))
            continue
        history = generate_shard(_rng(plan.seed, _HISTORY, index), target_datoms, first_t=1000 + 17 * index)
        n_tx = len(history.t_values)
        run_tx = [int(share * (n_tx - 1)) for share, _ in RUNS]
        log = history.log_table(0, history.rows)
        shard_info[shard] = {"datoms": history.rows, "first_t": int(history.t_values[0]), "last_t": int(history.t_values[-1])}
        log_fault = next(((n, k) for n, k in plan.faults.items() if k in LOG_FAULTS and n in {entry_name(shard, kind) for kind in KINDS}), None)
        segments = _write_segments(data, shard, history, log, run_tx[-1], _rng(plan.seed, _SYNC, index), log_fault[1] if log_fault else None)
        shard_info[shard]["segments"] = segments.written
        if log_fault is not None:
            fault_records.append({"kind": log_fault[1], "entry": log_fault[0], "shard": shard, "effect": segments.effect})
        fact_order = history.fact_order()
        for r, tx_index in enumerate(run_tx):
            t = int(history.t_values[tx_index])
            for kind in KINDS:
                name = entry_name(shard, kind)
                cache_id = plan.cache_ids[(r, name)]
                table = log.slice(0, history.rows_up_to(tx_index)) if kind == "log" else history.materialize(tx_index, fact_order)
                fault = plan.faults.get(name) if r == CHOSEN_RUN else None
                record: dict[str, object] = {"kind": fault, "entry": name, "cache_id": cache_id}
                catalog_t, rows = t, table.num_rows
                if fault == "stale-t":
                    # The run recorded the next t although it wrote the data only up to t.
                    catalog_t = int(history.t_values[tx_index + 1])
                    record["effect"] = {"catalog_t": catalog_t, "data_t": t}
                elif fault == "corrupt-cache":
                    broken = corrupt(table, t, _rng(plan.seed, _CORRUPT, index, KINDS.index(kind)))
                    table = broken.table
                    record["effect"] = broken.effect
                elif fault in ("empty-dataset", "empty-with-t"):
                    table, rows = table.slice(0, 0), 0
                    catalog_t = 0 if fault == "empty-dataset" else t
                    record["effect"] = {
                        "catalog_t": catalog_t,
                        "expected": "valid by both checks" if fault == "empty-dataset" else "discovery flags an empty dataset with a T above 0",
                    }
                files = _write_dataset(data, cache_id, table, kind, fault, record, ephemeral) if fault != "missing-source" else 0
                if fault == "missing-source":
                    record["effect"] = {"source_url": ephemeral.url_of(cache_id), "expected": "discovery reports the missing prefix"}
                elif fault == "missing-copy":
                    record["effect"] = {
                        "destination_url": destination.url_of(cache_id),
                        "expected": "the copy verifies, then vanishes before validation (a missing path); a re-copy fixes it",
                    }
                catalog[r].append(CatalogDataset(shard, kind, cache_id, catalog_t))
                if r == CHOSEN_RUN:
                    entries[name] = {"dataset": shard, "kind": kind, "t": catalog_t if fault == "empty-dataset" else t, "catalog_t": catalog_t, "cache_id": cache_id, "rows": rows, "files": files}
                    if fault and fault not in LOG_FAULTS:
                        fault_records.append(record)
        if shard not in NEW_SHARDS:
            old_tx = int(_REGISTRY_SHARE * (n_tx - 1))
            registry.append(RegistryEntry(entry_name(shard, "log"), int(history.t_values[old_tx]), destination.url_of(_short_id(ids))))
            registry.append(
                RegistryEntry(entry_name(shard, "materialized-entities"), int(history.t_values[old_tx - 3]), destination.url_of(_short_id(ids)))
            )
    for kind, t in zip(KINDS, (88_412, 88_395)):
        registry.append(RegistryEntry(entry_name(RETIRED_SHARD, kind), t, destination.url_of(_short_id(ids))))

    transactions = [
        Transaction(plan.run_ids[r], status, plan.finished_at[r], tuple(sorted(catalog[r], key=lambda d: (d.dataset, d.kind))))
        for r, (_, status) in enumerate(RUNS)
    ]
    for tx in transactions:
        data.put(f"catalog/{tx.id}.json", tx.to_json().encode())
    meta.put(REGISTRY_FILE, render_registry(registry).encode())
    meta.put("campaign.toml", render_campaign(_campaign_name(plan, where), plan.seed, plan.scale, _locations(where), s3 if where.is_s3 else None).encode())
    if any(f["kind"] == "missing-copy" for f in fault_records):
        # The fault happens outside logcache: rehearse it in this process and its children.
        lifecycle.rehearse()
    chosen = transactions[CHOSEN_RUN]
    recorded = sorted(fault_records, key=lambda f: (str(f["kind"]), str(f["entry"])))
    truth = {
        "format": 1,
        "seed": plan.seed,
        "scale": plan.scale,
        "transaction": chosen.id,
        "transactions": [{"id": tx.id, "status": tx.status, "finished_at": tx.finished_at} for tx in transactions],
        "shards": shard_info,
        "entries": dict(sorted(entries.items())),
        "registry_before": {e.name: {"t": e.t, "path": e.path} for e in sorted(registry, key=lambda e: e.name)},
        "faults": recorded,
    }
    meta.put("truth.json", (json.dumps(truth, indent=1, ensure_ascii=False) + "\n").encode())

    largest = max(shard_info.items(), key=lambda kv: kv[1]["datoms"])
    return WorldSummary(
        target=where.final_data.url if where.is_s3 else str(where.final),
        campaign_path=where.final / "campaign.toml",
        truth_path=where.final / "truth.json",
        seed=plan.seed,
        scale=plan.scale,
        transaction=chosen.id,
        runs=len(transactions),
        shards=len(plan.shards),
        databases=len(DATABASES),
        datoms=sum(s["datoms"] for s in shard_info.values()),
        largest_shard=(largest[0], largest[1]["datoms"]),
        datasets=sum(len(tx.datasets) for tx in transactions),
        chosen_datasets=len(chosen.datasets),
        objects=data.objects + meta.objects,
        bytes=data.bytes_written + meta.bytes_written,
        faults=tuple(recorded),
        seconds=time.monotonic() - started,
    )


def _campaign_name(plan: _Plan, where: _Target) -> str:
    return f"demo-{where.final.name}-seed{plan.seed}-{plan.scale}"


def _locations(where: _Target) -> CampaignLocations:
    if not where.is_s3:
        return CampaignLocations("ephemeral", "permanent/cache", "logs", "catalog", REGISTRY_FILE)
    root = where.final_data
    return CampaignLocations(root.url_of("ephemeral"), root.url_of("permanent/cache"), root.url_of("logs"), root.url_of("catalog"), REGISTRY_FILE)


@dataclass(frozen=True)
class _Segments:
    written: int
    effect: dict[str, object]


def _write_segments(
    out: _Writer, shard: str, history: ShardHistory, log: pa.Table, last_run_tx: int, rng: np.random.Generator, fault: str | None = None
) -> _Segments:
    """Avro segments covering contiguous t ranges; the last one lies wholly after every run's
    T. `fault` (one of LOG_FAULTS) changes their codec, drops a middle one or adds one
    that repeats part of another."""
    before = history.rows_up_to(last_run_tx)
    # A gap needs a segment with neighbours on both sides, below every run's T.
    count = max(3 if fault == "log-gap" else 2, math.ceil(before / _SEGMENT_ROWS))
    # Cut at transaction starts near equal row counts, so no t is split across segments.
    cuts = {int(np.searchsorted(history.tx, history.tx[(i * before) // count], side="left")) for i in range(1, count)}
    return _put_segments(out, shard, history, log, sorted({0, before, history.rows} | cuts), rng, fault)


def _put_segments(
    out: _Writer, shard: str, history: ShardHistory, log: pa.Table, bounds: list[int], rng: np.random.Generator, fault: str | None = None
) -> _Segments:
    """One Avro segment per pair of consecutive row `bounds` (each at a transaction's start);
    `fault` (one of LOG_FAULTS) changes their codec, drops the second or adds one that
    repeats part of the first."""
    codec = fault.removeprefix("codec-") if fault and fault.startswith("codec-") else writers.AVRO_CODEC
    effect: dict[str, object] = {"codec": codec, "expected": "valid: the segments are read whatever their codec"} if fault and fault.startswith("codec-") else {}
    written = 0
    for start, stop in itertools.pairwise(bounds):
        if stop <= start:
            continue
        first_t = int(history.t_values[history.tx[start]])
        last_t = int(history.t_values[history.tx[stop - 1]])
        key = segment_key(first_t, last_t)
        if fault == "log-gap" and written == 1 and not effect:
            effect = {"segment": key, "first_t": first_t, "last_t": last_t, "expected": f"log of {shard} has no segment for t {first_t}-{last_t}"}
            continue
        out.put(f"logs/{shard}/{key}", writers.avro_segment(log.slice(start, stop - start), rng.bytes(16), codec))
        written += 1
        if fault == "log-overlap" and not effect:
            # A second segment holding the second half of this one's transactions again.
            middle = int(np.searchsorted(history.tx, history.tx[(start + stop) // 2], side="left"))
            again = segment_key(int(history.t_values[history.tx[middle]]), last_t)
            out.put(f"logs/{shard}/{again}", writers.avro_segment(log.slice(middle, stop - middle), rng.bytes(16), codec))
            effect = {"segments": [key, again], "expected": f"segments {key} and {again} of {shard} overlap"}
    return _Segments(written, effect)


@dataclass
class _Streamed:
    """What a streamed shard wrote: its truth, each run's T, the registry's two T (log,
    entities), and (rows, files) of each run's dataset of each kind."""

    info: dict[str, int]
    run_t: list[int]
    registry_t: tuple[int, int]
    written: dict[tuple[int, str], tuple[int, int]]


def _streamed_shard(data: _Writer, plan: _Plan, index: int, shard: str, target_datoms: int) -> _Streamed:
    """A shard too big to hold whole, generated as blocks of consecutive t ranges and
    entities of their own, each written (segments, and its share of every run's datasets)
    before the next is generated. A run's log dataset is the blocks before its T and the
    start of the block that holds it; its snapshot, since a block's entities live in that
    block alone, is each earlier block's last snapshot and that block's snapshot at T."""
    blocks = math.ceil(target_datoms / _BLOCK_DATOMS)
    per_block = target_datoms // blocks
    block_tx = transactions_for(per_block)
    n_tx = blocks * block_tx
    run_tx = [int(share * (n_tx - 1)) for share, _ in RUNS]
    old_tx = int(_REGISTRY_SHARE * (n_tx - 1))
    wanted = {g: -1 for g in [*run_tx, old_tx, old_tx - 3]}
    writers_of: dict[tuple[int, str], writers.ParquetParts] = {}
    for r in range(len(RUNS)):
        for kind in KINDS:
            cache_id = plan.cache_ids[(r, entry_name(shard, kind))]
            emit = functools.partial(_put_part, data, cache_id)
            schema, rows = (DATOM_SCHEMA, _LOG_PART_ROWS) if kind == "log" else (ENTITY_SCHEMA, _ENTITY_PART_ROWS)
            writers_of[(r, kind)] = writers.ParquetParts(schema, rows, emit)
    info = {"datoms": 0, "segments": 0}
    first_t, first_e = 1000 + 17 * index, USER_PARTITION_BASE
    for k in range(blocks):
        history = generate_shard(_rng(plan.seed, _HISTORY, index, k), per_block, first_t, first_e)
        base = k * block_tx
        for g in wanted:
            if base <= g < base + block_tx:
                wanted[g] = int(history.t_values[g - base])
        log = history.log_table(0, history.rows)
        # Segments of about _SEGMENT_ROWS, and a cut at the last run's T when it is here.
        last_here = run_tx[-1] - base
        marks = {history.rows_up_to(last_here)} if 0 <= last_here < block_tx else set()
        step = math.ceil(history.rows / max(1, math.ceil(history.rows / _SEGMENT_ROWS)))
        cuts = {int(np.searchsorted(history.tx, history.tx[i], side="left")) for i in range(step, history.rows, step)}
        info["segments"] += _put_segments(data, shard, history, log, sorted({0, history.rows} | cuts | marks), _rng(plan.seed, _SYNC, index, k)).written
        fact_order = history.fact_order()
        for r, g in enumerate(run_tx):
            local = min(g - base, block_tx - 1)
            if local < 0:
                continue
            writers_of[(r, "log")].add(log.slice(0, history.rows_up_to(local)))
            writers_of[(r, "materialized-entities")].add(history.materialize(local, fact_order))
        info["datoms"] += history.rows
        info.setdefault("first_t", int(history.t_values[0]))
        info["last_t"] = int(history.t_values[-1])
        first_t, first_e = info["last_t"] + 1, int(history.e.max())
        del history, log, fact_order
    written = {key: (w.rows, w.close()) for key, w in writers_of.items()}
    run_t = [wanted[g] for g in run_tx]
    return _Streamed(info, run_t, (wanted[old_tx], wanted[old_tx - 3]), written)


def _put_part(out: _Writer, cache_id: str, i: int, body: bytes) -> None:
    out.put(f"ephemeral/{cache_id}/part-{i:05d}.parquet", body)


def _write_dataset(
    out: _Writer, cache_id: str, table: pa.Table, kind: str, fault: str | None, record: dict[str, object], ephemeral: Store
) -> int:
    part_rows = _LOG_PART_ROWS if kind == "log" else _ENTITY_PART_ROWS
    parts = writers.parquet_parts(table, max(2, math.ceil(table.num_rows / part_rows)))
    for i, body in enumerate(parts):
        key = f"{cache_id}/part-{i:05d}.parquet"
        if fault == "bad-parquet" and i == len(parts) // 2:
            record["effect"] = {
                "file_key": key,
                "file_url": ephemeral.url_of(key),
                "size_before": len(body),
                "size_after": len(body) // 2,
                "expected": "reading the file fails: it is not valid Parquet",
            }
            body = body[: len(body) // 2]
        out.put(f"ephemeral/{key}", body)
        if fault == "spark-temporary" and i == 0:
            # What Spark leaves beside the parts: its markers, and a failed task's output.
            out.put(f"ephemeral/{cache_id}/_SUCCESS", b"")
            out.put(f"ephemeral/{cache_id}/.{key.rsplit('/', 1)[-1]}.crc", b"crc " + str(len(body)).encode())
            temporary = f"{cache_id}/_temporary/0/_temporary/attempt_202611200412_0001_m_000000_1/part-00000.parquet"
            out.put(f"ephemeral/{temporary}", body)
            record["effect"] = {
                "temporary_key": temporary,
                "expected": "valid; the copy carries _SUCCESS and the .crc but not _temporary/",
            }
    return len(parts)
