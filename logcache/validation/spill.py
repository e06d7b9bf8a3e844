"""Fact digests routed to partitions, spilled to Arrow IPC files when they do not fit.

A heavy shard's materialized-entities check keeps one fact state and one `2t + added`
per datom until it folds them. Under a memory budget (`budget.Budget`) each decoded
segment's digests are routed at once to their partition, a range of checksum buckets
(`checksum.fact_buckets`), so every datom of a fact lands in the same one; what is held
beyond the budget's share goes, biggest partition first, to that partition's file. The
check then takes the partitions back one at a time.

Arrow IPC streams, uncompressed: two fixed-width columns written and read back at disk
speed with no encoding (Parquet's encoding costs more than it saves on random hashes).

Each unit spills under `<work_dir>/spill/<host>-<pid>-<token>/` and removes it when it
ends; a process killed mid-spill leaves its folder, which the next unit on the host
removes once that pid is gone (`sweep`).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

from logcache.validation.checksum import ENTITY_BUCKETS, fact_buckets
from state.lock import pid_alive

_SCHEMA = pa.schema([pa.field("state", pa.uint64(), nullable=False), pa.field("order", pa.int64(), nullable=False)])


def _host() -> str:
    return socket.gethostname().replace("-", "_")


def sweep(root: Path) -> None:
    """Remove the spill folders of this host's processes that are gone."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        host, _, rest = folder.name.partition("-")
        pid = rest.partition("-")[0]
        if host == _host() and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def spill_folder(root: Path, token: str) -> Path:
    """A spill folder of this process under `root`, which `sweep` removes once it is gone."""
    return root / f"{_host()}-{os.getpid()}-{token}"


def partition_of(states: np.ndarray, parts: int) -> np.ndarray:
    """Each fact state's partition: its checksum bucket's range (0..parts-1)."""
    return (fact_buckets(states) * parts // ENTITY_BUCKETS).astype(np.int64)


def routed(states: np.ndarray, order: np.ndarray, parts: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One segment's (state, order) pairs cut into their `parts` partitions."""
    part = partition_of(states, parts)
    by_part = np.argsort(part, kind="stable")
    cuts = np.searchsorted(part[by_part], np.arange(1, parts))
    # Copies, not views: a view held for one partition would keep the whole segment's
    # arrays alive until every partition had flushed its piece (with 100+ partitions,
    # most segments' arrays at once: memory that grew with the shard).
    return [(s.copy(), o.copy()) for s, o in zip(np.split(states[by_part], cuts), np.split(order[by_part], cuts))]


def write_piece(path: Path, states: np.ndarray, order: np.ndarray) -> None:
    """One piece as its own Arrow IPC file, whole or absent (written aside, then renamed)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with pa.ipc.new_stream(str(tmp), _SCHEMA) as writer:
        writer.write_batch(pa.record_batch([pa.array(states), pa.array(order)], schema=_SCHEMA))
    os.replace(tmp, path)


def read_pieces(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """The (state, order) pairs of these IPC files, joined."""
    states: list[np.ndarray] = []
    order: list[np.ndarray] = []
    for path in paths:
        with pa.OSFile(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        states.extend(c.to_numpy() for c in table.column("state").chunks)
        order.extend(c.to_numpy() for c in table.column("order").chunks)
    return _joined(states, order)


class FactSpill:
    """(state, order) pairs in `parts` partitions, at most `held` bytes of them in memory."""

    def __init__(self, root: Path, parts: int, held: int) -> None:
        self.folder = spill_folder(root, uuid.uuid4().hex[:8])
        self.folder.mkdir(parents=True)
        self.parts, self.held = parts, held
        self._lock = threading.Lock()
        self._memory: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(parts)]
        self._sizes = [0] * parts
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self.spilled = 0  # bytes written, for the unit's measurements

    def add(self, states: np.ndarray, order: np.ndarray) -> None:
        """Route one segment's digests (called from the decoding threads)."""
        pieces = routed(states, order, self.parts)
        with self._lock:
            for p, (s, o) in enumerate(pieces):
                if len(s):
                    self._memory[p].append((s, o))
                    self._sizes[p] += s.nbytes + o.nbytes
            while sum(self._sizes) > self.held:
                self._flush(max(range(self.parts), key=self._sizes.__getitem__))

    def _flush(self, p: int) -> None:
        held, self._memory[p], self._sizes[p] = self._memory[p], [], 0
        writer = self._writers.get(p)
        if writer is None:
            writer = self._writers[p] = pa.ipc.new_stream(str(self._path(p)), _SCHEMA)
        for s, o in held:
            writer.write_batch(pa.record_batch([pa.array(s), pa.array(o)], schema=_SCHEMA))
            self.spilled += s.nbytes + o.nbytes

    def _path(self, p: int) -> Path:
        return self.folder / f"part-{p:04d}.arrows"

    def take(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Partition `p`'s states and orders, all of them; its file is removed."""
        with self._lock:
            held, self._memory[p], self._sizes[p] = self._memory[p], [], 0
            writer = self._writers.pop(p, None)
        states = [s for s, _ in held]
        order = [o for _, o in held]
        if writer is None:
            return _joined(states, order)
        writer.close()
        path = self._path(p)
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
            # Joined (copied) before the map closes.
            out = _joined([c.to_numpy() for c in table.column("state").chunks] + states, [c.to_numpy() for c in table.column("order").chunks] + order)
        path.unlink()
        return out

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()
            self._memory = [[] for _ in range(self.parts)]
        shutil.rmtree(self.folder, ignore_errors=True)


def _joined(states: list[np.ndarray], order: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not states:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    return np.concatenate(states), np.concatenate(order)
