"""Split the validation work into parcels.

Two plans. `alphabetical` is the manual runbook's contract: databases in alphabetical
order, cut into N contiguous shares, so `--parcel-count N --parcel-id I` means what
operators are used to. `size` (the default) balances bytes: longest-processing-time
bin packing, after cutting any log task heavier than a fraction of one parcel's fair
share into t-range sub-tasks, each reading only its own segments, so that no parcel
waits behind one giant shard's log. A materialized-entities task stays whole: every
fact's latest datom may lie in any segment, so a split by entity would decode the whole
log once per part; it runs on all cores of its worker instead (on Dask its decodes and
partition folds are tasks of their own, `spread`). Named as `<pair>#pKofN`, partitions of
it are tasks of their own (`Partitions`): what a command-backend job can run alone.
"""

from __future__ import annotations

import difflib
import heapq
import re
from dataclasses import dataclass

from logcache.datomic.schema import VALIDATIONS, database_of
from logcache.entries import CacheEntry
from logcache.errors import UnknownDataset, UsageError

BALANCES = ("size", "alphabetical")
# A task heavier than this fraction of the fair share (total / N) is cut into pieces no
# heavier than it; with 1/2 the greedy packing stays within about 1.5x of the mean in
# the worst case and close to 1x in practice.
SPLIT_FRACTION = 0.5
MAX_PARTS = 64
# An entities check is cut into at most this many partitions, each a task of its own.
MAX_ENTITY_PARTS = 4096


@dataclass(frozen=True)
class Task:
    dataset: str
    kind: str
    validation: str
    part: int
    parts: int
    weight: int

    @property
    def name(self) -> str:
        """`<dataset>/<validation>`: the unit of `--filter-by-name` and of a result row."""
        return f"{self.dataset}/{self.validation}"

    @property
    def task_id(self) -> str:
        """The name of the whole task, or of one part: `#KofN` a log's t range, `#pKofN` an
        entities check's partition (which `--filter-by-name` can name)."""
        if self.parts == 1:
            return self.name
        return f"{self.name}#{'' if self.kind == 'log' else 'p'}{self.part + 1}of{self.parts}"


@dataclass(frozen=True)
class Parcel:
    parcel_id: int
    tasks: tuple[Task, ...]

    @property
    def bytes(self) -> int:
        return sum(t.weight for t in self.tasks)


def units(tasks: tuple[Task, ...] | list[Task]) -> list[tuple[Task, ...]]:
    """The tasks grouped into what one worker runs at once: the whole tasks of one shard
    together (both checks from one decode of its log), each sub-task on its own (so a
    heavy shard's parts spread over the workers)."""
    grouped: dict[str, list[Task]] = {}
    out: list[tuple[Task, ...]] = []
    for task in tasks:
        if task.parts == 1:
            grouped.setdefault(task.dataset, []).append(task)
        else:
            out.append((task,))
    return sorted([*out, *(tuple(g) for g in grouped.values())], key=lambda u: (-sum(t.weight for t in u), u[0].task_id))


# The local backend runs a small campaign's units in its own process, this many at once
# (`backends._run_local`); bigger work goes to a pool of worker processes.
IN_PROCESS_BYTES = 64 << 20
IN_PROCESS_UNITS = 3


def local_concurrency(workers: int | None, unit_count: int, nbytes: int, cpus: int) -> int:
    """How many units the local backend runs at once on this machine: a few threads in
    its own process for small work (`workers` unset), else a pool of worker processes."""
    if workers is None and nbytes < IN_PROCESS_BYTES:
        return max(1, min(IN_PROCESS_UNITS, unit_count))
    return max(1, min(unit_count, workers or cpus))


def whole_tasks(entries: list[CacheEntry]) -> list[Task]:
    return [
        Task(e.dataset, e.kind, VALIDATIONS[e.kind], 0, 1, max(e.bytes, 1))
        for e in sorted(entries, key=lambda e: (e.dataset, e.kind))
    ]


@dataclass(frozen=True)
class Partitions:
    """Entities checks cut into partitions, each a task of its own (what the command
    backend's jobs run, `entity_partitions`): pair -> partitions, and the parts named
    by `--filter-by-name` (pair -> 0-based parts; a pair absent: all of them)."""

    parts: dict[str, int]
    only: dict[str, frozenset[int]]

    def cut(self, tasks: list[Task]) -> list[Task]:
        out: list[Task] = []
        for task in tasks:
            parts = self.parts.get(task.name, 1)
            if task.kind == "log" or parts == 1:
                out.append(task)
                continue
            keep = self.only.get(task.name, frozenset(range(parts)))
            out.extend(
                Task(task.dataset, task.kind, task.validation, p, parts, max(1, task.weight // parts)) for p in range(parts) if p in keep
            )
        return out


NO_PARTITIONS = Partitions({}, {})
_PARTITION_NAME = re.compile(r"^(?P<pair>.+)#p(?P<part>[0-9]+)of(?P<parts>[0-9]+)$")


def named_partitions(names: list[str]) -> tuple[list[str], Partitions]:
    """`--filter-by-name`'s pairs, and the entities partitions it names (`<pair>#pKofN`)."""
    pairs: list[str] = []
    parts: dict[str, int] = {}
    only: dict[str, set[int]] = {}
    for name in names:
        match = _PARTITION_NAME.match(name)
        if match is None:
            pairs.append(name)
            continue
        pair, part, count = match["pair"], int(match["part"]), int(match["parts"])
        if not 1 <= part <= count <= MAX_ENTITY_PARTS or parts.setdefault(pair, count) != count:
            raise UsageError(f"{name!r} in --filter-by-name names no partition: use <dataset>/<validation>#pKofN with 1 <= K <= N <= {MAX_ENTITY_PARTS}, one N per pair")
        if not pair.endswith("/materialized-entities-validation"):
            raise UsageError(f"{name!r} in --filter-by-name: only a materialized-entities check is cut into partitions")
        pairs.append(pair)
        only.setdefault(pair, set()).add(part - 1)
    return pairs, Partitions(parts, {pair: frozenset(ps) for pair, ps in only.items()})


def parse_cut(text: str) -> dict[str, int]:
    """`--entity-partitions`: `<dataset>/materialized-entities-validation=N,...`."""
    cut: dict[str, int] = {}
    for item in (i.strip() for i in text.split(",")):
        pair, _, count = item.rpartition("=")
        if not item:
            continue
        if not pair.endswith("/materialized-entities-validation") or not count.isdigit() or not 1 <= int(count) <= MAX_ENTITY_PARTS:
            raise UsageError(f"{item!r} names no partitions: use <dataset>/materialized-entities-validation=N with 1 <= N <= {MAX_ENTITY_PARTS}")
        cut[pair] = int(count)
    return cut


def format_cut(cut: dict[str, int]) -> str:
    return ",".join(f"{pair}={count}" for pair, count in sorted(cut.items()))


def plan_alphabetical(entries: list[CacheEntry], count: int, partitions: Partitions = NO_PARTITIONS) -> list[Parcel]:
    _check_count(count)
    databases = sorted({database_of(e.dataset) for e in entries})
    tasks = partitions.cut(whole_tasks(entries))
    parcels = []
    for i in range(count):
        share = set(databases[i * len(databases) // count : (i + 1) * len(databases) // count])
        parcels.append(Parcel(i, tuple(t for t in tasks if database_of(t.dataset) in share)))
    return parcels


def plan_by_size(entries: list[CacheEntry], count: int, partitions: Partitions = NO_PARTITIONS) -> list[Parcel]:
    _check_count(count)
    tasks = whole_tasks(entries)
    total = sum(t.weight for t in tasks)
    limit = max(1, int(total / count * SPLIT_FRACTION)) if count > 1 else total
    pieces: list[Task] = []
    for task in tasks:
        parts = min(MAX_PARTS, -(-task.weight // limit)) if task.weight > limit and task.kind == "log" else 1
        pieces.extend(
            Task(task.dataset, task.kind, task.validation, p, parts, task.weight // parts + (p < task.weight % parts))
            for p in range(parts)
        )
    pieces = partitions.cut(pieces)
    # Heaviest first onto the lightest parcel; ties broken by name so plans are stable.
    pieces.sort(key=lambda t: (-t.weight, t.task_id))
    heap = [(0, i) for i in range(count)]
    assigned: list[list[Task]] = [[] for _ in range(count)]
    for piece in pieces:
        load, i = heapq.heappop(heap)
        assigned[i].append(piece)
        heapq.heappush(heap, (load + piece.weight, i))
    return [Parcel(i, tuple(sorted(ts, key=lambda t: t.task_id))) for i, ts in enumerate(assigned)]


def plan(entries: list[CacheEntry], count: int, balance: str, partitions: Partitions = NO_PARTITIONS) -> list[Parcel]:
    if balance == "size":
        return plan_by_size(entries, count, partitions)
    if balance == "alphabetical":
        return plan_alphabetical(entries, count, partitions)
    raise UsageError(f"unknown balance {balance!r}; use one of {', '.join(BALANCES)}")


def imbalance(parcels: list[Parcel]) -> float:
    """max/mean bytes per parcel: 1.0 is perfect."""
    loads = [p.bytes for p in parcels]
    mean = sum(loads) / len(loads) if loads else 0
    return max(loads) / mean if mean else 1.0


def filter_by_name(entries: list[CacheEntry], names: list[str], option: str = "--filter-by-name") -> list[CacheEntry]:
    """Entries named `<dataset>/<validation>` (the runbook's `--filter-by-name`), each
    returned with only the kind that validation checks."""
    known = {e.pair: e for e in entries}
    unknown = [n for n in names if n not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else "; names are <dataset>/log-validation or <dataset>/materialized-entities-validation"
        raise UnknownDataset(f"unknown dataset/validation {unknown[0]!r} in {option}{hint}")
    return [known[n] for n in dict.fromkeys(names)]


def _check_count(count: int) -> None:
    if count < 1:
        raise UsageError(f"--parcel-count must be at least 1 (got {count})")


def parcel_of(parcels: list[Parcel], parcel_id: int) -> Parcel:
    if not 0 <= parcel_id < len(parcels):
        raise UsageError(f"--parcel-id {parcel_id} is out of range: use 0 to {len(parcels) - 1}")
    return parcels[parcel_id]
