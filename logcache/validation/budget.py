"""How much memory one validation worker may use, and how many partitions that takes.

`[validation] worker_memory` (or `--worker-memory`) is the budget of one worker beyond
its interpreter and imports: the segments being decoded (`READ_BYTES` each, as many
readers as fit in `READ_SHARE` of it), then the digests held and one partition's fold.
Without it, half the machine's physical memory is shared by the workers that run on it. A materialized-
entities check keeps a fact state and `2t + added` per datom (16 bytes) and sorts them
to fold; when that would not fit, its facts are cut into partitions by checksum bucket
(`spill.FactSpill`), each folded on its own, so the peak stays within the budget
whatever the shard's size.
"""

from __future__ import annotations

import ctypes
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from state.config import CampaignConfig

# Bytes per datom while one partition is folded: its states and orders (16), their
# sorted copies (16) and the sort's indices (8), with room for numpy's temporaries.
FOLD_BYTES_PER_DATOM = 48
# Datoms per byte of Avro segment assumed before any was measured: about twice what the
# demo's deflate segments hold (0.13), so a first estimate errs towards more partitions.
DATOMS_PER_BYTE = 0.25
# Bytes per row while differing buckets are diffed exactly: both sides' Arrow rows, and
# Polars' group-by and join of them.
DIFF_BYTES_PER_ROW = 400
# One segment being decoded: its Avro bytes, Polars' frame, the Arrow table and its
# hashes (50-100 MB measured for the demo's 500k-datom segments).
READ_BYTES = 80 << 20
# At most this share of the budget goes to reads in flight (one reader at least).
READ_SHARE = 0.75
# Of what the reads leave: this share holds the digests routed but not yet spilled, and
# the rest one partition's fold.
HELD_SHARE = 0.25
MACHINE_SHARE = 0.5
# The materialized-entities checksums' buckets (`checksum.fact_buckets`): a partition is
# a range of them.
ENTITY_BUCKETS = 1 << 12


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def reader_threads() -> int:
    """Reader threads of a unit that runs alone in its process: the cores, at most 4
    (beyond that the storage and Polars' own threads gain little)."""
    return max(1, min(4, cores()))


@dataclass(frozen=True)
class Budget:
    """One worker's memory budget in bytes, and the work dir its units spill under and
    record their measurements in."""

    memory: int
    work_dir: Path

    @property
    def spill_root(self) -> Path:
        return self.work_dir / "spill"

    def readers(self, wanted: int) -> int:
        """Reader threads whose decodes in flight fit the budget, at most `wanted`."""
        return max(1, min(wanted, int(self.memory * READ_SHARE) // READ_BYTES))

    @property
    def digests(self) -> int:
        """What the reads of a unit on its own pool leave for digests and folds."""
        return max(self.memory - self.readers(reader_threads()) * READ_BYTES, int(self.memory * (1 - READ_SHARE)))

    @property
    def held(self) -> int:
        return max(1, int(self.digests * HELD_SHARE))

    @property
    def fold(self) -> int:
        return max(1, self.digests - self.held)

    @property
    def diff_rows(self) -> int:
        """Rows of differing buckets diffed at once: the rest wait for the next group."""
        return max(1, self.fold // DIFF_BYTES_PER_ROW)

    def partitions(self, datoms: int) -> int:
        """How many partitions a fold of `datoms` needs to stay within the budget (1: whole)."""
        return max(1, min(ENTITY_BUCKETS, math.ceil(datoms * FOLD_BYTES_PER_DATOM / self.fold)))


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to hand back this way
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int  # int malloc_trim(size_t pad)
    return trim


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the OS. glibc keeps what each thread freed in its
    arena, and once a big block was freed it serves blocks that size from the arenas
    too, so a process decoding segment after segment on several threads stays well
    above what it holds (both checks of xlarge's heaviest shard at 256MiB: 454 MiB at
    the peak, 420 MiB trimming after each segment, about 3 ms a trim)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def default_worker_memory(workers: int) -> int:
    """Half of this machine's memory shared by `workers` workers."""
    return int(physical_memory() * MACHINE_SHARE / max(1, workers))


def budget_of(config: CampaignConfig) -> Budget:
    """The budget of one worker of `config`'s validation: its `worker_memory`, or this
    machine's share for as many workers as it runs (`workers`, else the cores)."""
    memory = config.validation.worker_memory or default_worker_memory(config.validation.workers or cores())
    return Budget(memory, config.work_dir)


def estimated_datoms(segment_bytes: int, datoms_per_byte: float = DATOMS_PER_BYTE) -> int:
    return math.ceil(segment_bytes * datoms_per_byte)
