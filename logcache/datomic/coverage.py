"""Whether a shard's log segments cover t up to T without a gap or an overlap.

Segment keys name the inclusive t range each holds (`segment-<first t>-<last t>.avro`),
and a shard's segments follow one another: the next begins at the t after the last one
ends. A hole between two of them (or before T after the last) is a gap; two ranges that
share a t are an overlap, whose datoms a reader of the log would see twice. Either is a
finding about the log, never about a cache compared with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from logcache.datomic.logop import Segment


@dataclass(frozen=True)
class Gap:
    first_t: int
    last_t: int


@dataclass(frozen=True)
class Overlap:
    first: str  # the segments' keys
    second: str
    first_t: int
    last_t: int


@dataclass(frozen=True)
class Coverage:
    shard: str
    gaps: tuple[Gap, ...]
    overlaps: tuple[Overlap, ...]

    @property
    def whole(self) -> bool:
        return not self.gaps and not self.overlaps

    def describe(self) -> str:
        """One line about the log (empty when it is whole)."""
        parts = [f"log of {self.shard} has no segment for t {g.first_t}-{g.last_t}" for g in self.gaps]
        parts += [f"segments {_name(o.first)} and {_name(o.second)} of {self.shard} overlap in t {o.first_t}-{o.last_t}" for o in self.overlaps]
        return "; ".join(parts)


def coverage(shard: str, segments: list[Segment], t: int) -> Coverage:
    """The gaps and overlaps among `segments` (in t order) up to `t`."""
    gaps: list[Gap] = []
    overlaps: list[Overlap] = []
    reach: Segment | None = None  # the segment reaching furthest so far
    for segment in (s for s in segments if s.first_t <= t):
        if reach is not None:
            if segment.first_t > reach.last_t + 1:
                gaps.append(Gap(reach.last_t + 1, segment.first_t - 1))
            elif segment.first_t <= reach.last_t:
                overlaps.append(Overlap(reach.key, segment.key, segment.first_t, min(reach.last_t, segment.last_t)))
        if reach is None or segment.last_t > reach.last_t:
            reach = segment
    if reach is not None and reach.last_t < t:
        gaps.append(Gap(reach.last_t + 1, t))
    return Coverage(shard, tuple(gaps), tuple(overlaps))


def _name(key: str) -> str:
    return key.rsplit("/", 1)[-1]
