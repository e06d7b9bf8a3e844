"""Plain-Python reference semantics of a Datomic log, small and obviously right: the
test oracle of the demo world (it ships with the tests, not in the package).

Tests compare the vectorised generator and the caches against these; they are far too
slow for large worlds on purpose: their only job is to be easy to check by reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Fact = tuple[int, int, str]  # (e, a, v)


def materialize_reference(datoms: Iterable[Mapping[str, object]], as_of: int | None = None) -> set[tuple[int, int, str, int]]:
    """Current facts (e, a, v, t of the assertion) after replaying `datoms` up to `as_of`.

    A fact is current iff its latest datom with t <= as_of is an assertion.
    """
    latest: dict[Fact, tuple[int, bool]] = {}
    for d in sorted(datoms, key=lambda d: int(d["t"])):  # type: ignore[arg-type]
        t = int(d["t"])  # type: ignore[arg-type]
        if as_of is not None and t > as_of:
            break
        latest[(int(d["e"]), int(d["a"]), str(d["v"]))] = (t, bool(d["added"]))  # type: ignore[arg-type]
    return {(e, a, v, t) for (e, a, v), (t, added) in latest.items() if added}


def replay_violations(datoms: Iterable[Mapping[str, object]], card_one: set[int], tx_instant: int, tx_base: int) -> list[str]:
    """Every way the log breaks Datomic's rules; empty when it is consistent.

    Checks: a retraction retracts a fact asserted earlier and still current; an assertion
    is never redundant; a card-one attribute holds at most one value after each t, and a
    new value's retraction of the old one is in the same t; every t has exactly one
    :db/txInstant, on its own tx entity.
    """
    problems: list[str] = []
    current: dict[tuple[int, int], set[str]] = {}
    by_t: dict[int, list[Mapping[str, object]]] = {}
    for d in datoms:
        by_t.setdefault(int(d["t"]), []).append(d)  # type: ignore[arg-type]
    for t in sorted(by_t):
        batch = by_t[t]
        instants = [d for d in batch if d["a"] == tx_instant]
        if len(instants) != 1 or instants[0]["e"] != tx_base + t or not instants[0]["added"]:
            problems.append(f"t={t}: expected one :db/txInstant assertion on e={tx_base + t}")
        facts = [((int(d["e"]), int(d["a"])), str(d["v"]), bool(d["added"])) for d in batch]  # type: ignore[arg-type]
        for slot, v, added in facts:
            if not added:
                if v not in current.get(slot, set()):
                    problems.append(f"t={t}: retraction of {slot + (v,)}, which is not currently asserted")
                current.get(slot, set()).discard(v)
        for slot, v, added in facts:
            if added:
                if v in current.setdefault(slot, set()):
                    problems.append(f"t={t}: redundant assertion of {slot + (v,)}")
                current[slot].add(v)
                if slot[1] in card_one and len(current[slot]) > 1:
                    problems.append(f"t={t}: card-one attribute {slot[1]} of {slot[0]} holds several values (old value not retracted)")
    return problems
