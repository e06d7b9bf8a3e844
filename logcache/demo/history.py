"""One shard's whole transaction history, generated vectorised with numpy.

The model follows Datomic: entities are born in one transaction, then their
cardinality-one attributes change value (each change retracts the old value and asserts
the new one in the same t), their cardinality-many attributes gain and lose single
values, and some entities are retracted whole (every current fact retracted in one t).
Every transaction also asserts `:db/txInstant` on its own tx entity. Because every
retraction is derived from an assertion made earlier and not yet retracted, the log is
consistent by construction; the tests' `demo_reference.replay_violations` checks it independently.

Values are kept as indices into a per-shard string table until the very end, so that
sorting and materialising 20M+ datoms stays in integer numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logcache.datomic.schema import TX_PARTITION_BASE
from logcache.datomic.tables import DATOM_SCHEMA, ENTITY_SCHEMA

# Datomic's own entity id for :db/txInstant, and the user partition (4 * 2^42).
TX_INSTANT = 50
USER_PARTITION_BASE = 4 * (1 << 42)


@dataclass(frozen=True)
class Attribute:
    id: int
    ident: str
    many: bool
    presence: float  # share of entities that have it
    changes: float  # card-one: mean value changes; card-many: mean extra values
    values: tuple[str, ...]


_NAMES = ("Ada", "Zoë", "Łukasz", "Søren", "Renée", "José", "Ngozi", "Chloé", "Björk", "Иван", "李娜", "Ñandú", "O'Brien", "Mia")
_STATUSES = ("pending", "active", "suspended", "closed", "réglé", "処理中")
_NOTES = ("", "ok", "see ticket ✓", "refund → card", "naïve café", "多言語メモ", "emoji 🚀 launch", "tab\there", "line1\nline2")
_TAGS = ("vip", "beta", "eu", "us", "apac", "fraud-check", "überprüft", "テスト", "promo", "legacy")


def _numbered(words: tuple[str, ...], copies: int) -> tuple[str, ...]:
    """`copies` distinct variants of every word (the first is the word itself)."""
    return tuple(w if q == 0 else f"{w} #{q}" for q in range(copies) for w in words)


# Amounts: 5000 distinct decimals; 7919 is prime to 10^6, so i -> i*7919 mod 10^6 is injective.
_AMOUNTS = tuple(f"{(i * 7919) % 1_000_000 / 100:.2f}" for i in range(5000))

ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(100, ":entity/name", False, 1.0, 0.3, _numbered(_NAMES, 40)),
    Attribute(101, ":entity/status", False, 0.9, 1.6, _STATUSES),
    Attribute(102, ":entity/amount", False, 0.7, 1.0, _AMOUNTS),
    Attribute(103, ":entity/note", False, 0.4, 0.5, _numbered(_NOTES, 20)),
    Attribute(104, ":entity/email", False, 0.5, 0.2, tuple(f"user{i}@example.com" for i in range(2000))),
    Attribute(200, ":entity/tags", True, 0.5, 1.5, _numbered(_TAGS, 8)),
    Attribute(201, ":entity/links", True, 0.3, 1.0, tuple(str(USER_PARTITION_BASE + i) for i in range(1000))),
)

# The static part of every shard's value table: all attributes' values, back to back.
_OFFSETS = np.cumsum([0] + [len(a.values) for a in ATTRIBUTES])
_STATIC_VALUES = [v for a in ATTRIBUTES for v in a.values]
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class ShardHistory:
    """A shard's log, sorted by (t, e, a, added, v); `tx` indexes `t_values`."""

    e: np.ndarray  # int64
    a: np.ndarray  # int64
    vidx: np.ndarray  # int64 index into `values`
    tx: np.ndarray  # int64 index into t_values
    added: np.ndarray  # bool
    t_values: np.ndarray  # int64, one per transaction, increasing with gaps
    values: pa.Array  # string table

    @property
    def rows(self) -> int:
        return len(self.e)

    def rows_up_to(self, tx_index: int) -> int:
        """How many datoms have t <= t_values[tx_index] (the log is sorted by t)."""
        return int(np.searchsorted(self.tx, tx_index, side="right"))

    def log_table(self, start: int, stop: int) -> pa.Table:
        return self._table(np.arange(start, stop), with_added=True)

    def materialize(self, tx_index: int, fact_order: np.ndarray) -> pa.Table:
        """Current facts as of t_values[tx_index]: (e, a, v) whose latest datom is an assertion.

        `fact_order` is `self.fact_order()`, computed once and reused for every T.
        """
        sel = fact_order[self.tx[fact_order] <= tx_index]
        e, a, v = self.e[sel], self.a[sel], self.vidx[sel]
        # Within a run of equal (e, a, v) sorted by t, the last row is the latest datom.
        last = np.ones(len(sel), dtype=bool)
        last[:-1] = (e[1:] != e[:-1]) | (a[1:] != a[:-1]) | (v[1:] != v[:-1])
        return self._table(sel[last & self.added[sel]], with_added=False)

    def fact_order(self) -> np.ndarray:
        return np.lexsort((self.tx, self.vidx, self.a, self.e))

    def _table(self, rows: np.ndarray, with_added: bool) -> pa.Table:
        cols = [
            pa.array(self.e[rows], pa.int64()),
            pa.array(self.a[rows], pa.int64()),
            self.values.take(pa.array(self.vidx[rows])),
            pa.array(self.t_values[self.tx[rows]], pa.int64()),
        ]
        if with_added:
            return pa.Table.from_arrays([*cols, pa.array(self.added[rows], pa.bool_())], schema=DATOM_SCHEMA)
        return pa.Table.from_arrays(cols, schema=ENTITY_SCHEMA)


class _Datoms:
    """Column chunks collected before one final concatenation and sort."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, e: np.ndarray, a: int | np.ndarray, vidx: np.ndarray, tx: np.ndarray, added: bool) -> None:
        n = len(e)
        if n:
            self.parts.append((e, a if isinstance(a, np.ndarray) else np.broadcast_to(np.int64(a), (n,)), vidx, tx, np.full(n, added)))

    def columns(self) -> list[np.ndarray]:
        return [np.concatenate([p[i] for p in self.parts]).astype(np.int64 if i < 4 else bool) for i in range(5)]


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, start) for a sorted key array: whether a row starts a run, and its run's start row."""
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))
    return first, start


def transactions_for(target_datoms: int) -> int:
    """How many transactions `generate_shard` makes for `target_datoms`."""
    return max(24, target_datoms // 9)


def generate_shard(rng: np.random.Generator, target_datoms: int, first_t: int, first_e: int = USER_PARTITION_BASE) -> ShardHistory:
    """About `target_datoms` datoms (the count is not exact: it follows the random model),
    entity ids from just above `first_e`."""
    n_tx = transactions_for(target_datoms)
    gaps = np.where(rng.random(n_tx) < 0.15, rng.integers(1, 6, n_tx), 0)
    t_values = first_t + np.cumsum(1 + gaps) - 1
    n_ent = max(8, target_datoms // 12)
    # Births sorted so that entity ids grow with time, as Datomic allocates them.
    birth = np.sort(rng.integers(0, n_tx - 1, n_ent))
    e_ids = first_e + np.cumsum(rng.integers(1, 4, n_ent))
    dies = rng.random(n_ent) < 0.08
    # `end` is the death tx (whole-entity retraction) or n_tx for entities alive at the end.
    end = np.where(dies, birth + 1 + (rng.random(n_ent) * (n_tx - 1 - birth)).astype(np.int64), n_tx)
    out = _Datoms()

    for k, attr in enumerate(ATTRIBUTES):
        offset, n_values = int(_OFFSETS[k]), len(attr.values)
        ents = np.nonzero(rng.random(n_ent) < attr.presence)[0]
        if attr.many:
            _card_many(rng, out, attr, offset, n_values, ents, e_ids, birth, end, dies)
        else:
            _card_one(rng, out, attr, offset, n_values, ents, e_ids, birth, end, dies)

    tx_seconds = np.cumsum(rng.integers(20, 400, n_tx))
    values = pa.concat_arrays([pa.array(_STATIC_VALUES, pa.string()), _instant_strings(tx_seconds)])
    txs = np.arange(n_tx)
    out.add(TX_PARTITION_BASE + t_values, TX_INSTANT, len(_STATIC_VALUES) + txs, txs, True)

    e, a, vidx, tx, added = out.columns()
    order = np.lexsort((vidx, added, a, e, tx))
    return ShardHistory(e[order], a[order], vidx[order], tx[order], added[order], t_values, values)


def _instant_strings(seconds: np.ndarray) -> pa.Array:
    """`:db/txInstant` values as ISO-8601 UTC strings, one per transaction."""
    stamps = pa.array(np.datetime64(_EPOCH.replace(tzinfo=None), "ms") + seconds.astype("timedelta64[s]"))
    return pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%SZ", locale="C")


def _card_one(
    rng: np.random.Generator, out: _Datoms, attr: Attribute, offset: int, n_values: int,
    ents: np.ndarray, e_ids: np.ndarray, birth: np.ndarray, end: np.ndarray, dies: np.ndarray,
) -> None:
    # Each slot (entity, attribute) is set at birth, then changes k times strictly between
    # birth and end; two changes in one transaction collapse into one.
    room = end[ents] - birth[ents] - 1
    changes = np.minimum(rng.poisson(attr.changes, len(ents)), room)
    slot = np.concatenate([np.arange(len(ents)), np.repeat(np.arange(len(ents)), changes)])
    r = rng.random(int(changes.sum()))
    change_tx = birth[ents][slot[len(ents):]] + 1 + (r * room[slot[len(ents):]]).astype(np.int64)
    tx = np.concatenate([birth[ents], change_tx])
    order = np.lexsort((tx, slot))
    slot, tx = slot[order], tx[order]
    keep = np.ones(len(slot), dtype=bool)
    keep[1:] = (slot[1:] != slot[:-1]) | (tx[1:] != tx[:-1])
    slot, tx = slot[keep], tx[keep]
    first, start = _runs(slot)
    # A new value always differs from the previous one: step by 1..n-1 modulo n.
    step = np.where(first, rng.integers(0, n_values, len(slot)), 1 + rng.integers(0, n_values - 1, len(slot)))
    total = np.cumsum(step)
    vidx = offset + (total - total[start] + step[start]) % n_values
    e = e_ids[ents][slot]
    out.add(e, attr.id, vidx, tx, True)
    out.add(e[~first], attr.id, vidx[np.nonzero(~first)[0] - 1], tx[~first], False)
    # Whole-entity retraction: the slot's last value is retracted at the entity's death.
    last = np.ones(len(slot), dtype=bool)
    last[:-1] = slot[1:] != slot[:-1]
    gone = last & dies[ents][slot]
    out.add(e[gone], attr.id, vidx[gone], end[ents][slot[gone]], False)


def _card_many(
    rng: np.random.Generator, out: _Datoms, attr: Attribute, offset: int, n_values: int,
    ents: np.ndarray, e_ids: np.ndarray, birth: np.ndarray, end: np.ndarray, dies: np.ndarray,
) -> None:
    # Each entity holds m distinct values (consecutive indices modulo n), each asserted
    # at some t in [birth, end) and maybe retracted later, alone or with the whole entity.
    count = np.minimum(1 + rng.poisson(attr.changes, len(ents)), n_values - 1)
    owner = np.repeat(np.arange(len(ents)), count)
    _, start = _runs(owner)
    j = np.arange(len(owner)) - start
    vidx = offset + (np.repeat(rng.integers(0, n_values, len(ents)), count) + j) % n_values
    b, en = birth[ents][owner], end[ents][owner]
    assert_tx = b + (rng.random(len(owner)) * (en - b)).astype(np.int64)
    room = en - 1 - assert_tx
    alone = (rng.random(len(owner)) < 0.35) & (room > 0)
    retract_tx = assert_tx + 1 + (rng.random(len(owner)) * np.maximum(room, 1)).astype(np.int64)
    e = e_ids[ents][owner]
    out.add(e, attr.id, vidx, assert_tx, True)
    out.add(e[alone], attr.id, vidx[alone], retract_tx[alone], False)
    with_entity = ~alone & dies[ents][owner]
    out.add(e[with_entity], attr.id, vidx[with_entity], en[with_entity], False)
