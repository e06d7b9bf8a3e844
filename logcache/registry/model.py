"""What a registry holds, how a refresh changes it, and the interface every file format implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from logcache.entries import CacheEntry
from logcache.errors import LogcacheError


class RegistryError(LogcacheError):
    """The registry file is missing or malformed, or cannot be updated as asked."""


@dataclass(frozen=True)
class RegistryValue:
    """One registry entry's value: the cached prefix and the `t` it holds the log up to."""

    t: int
    path: str


@dataclass(frozen=True)
class Registry:
    """The entries of a registry file, by name (`<shard>/<kind>`), in file order."""

    entries: Mapping[str, RegistryValue]


class RegistryFormat(Protocol):
    """One registry file format. `render` must leave everything but the entries byte-identical."""

    name: str

    def parse(self, text: str, origin: str = "<registry>") -> Registry:
        """The entries of `text`; a RegistryError naming `origin` and the line if malformed."""
        ...

    def render(self, text: str, entries: Mapping[str, RegistryValue], origin: str = "<registry>") -> str:
        """`text` with its entries replaced by `entries`, sorted by name."""
        ...


class Status(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    # In the registry but not in this transaction (a retired shard, or one this run
    # skipped): the entry stays, and the operator is warned.
    KEPT = "kept"


@dataclass(frozen=True)
class Change:
    name: str
    status: Status
    old: RegistryValue | None
    new: RegistryValue


@dataclass(frozen=True)
class RegistryUpdate:
    """Every registry name with its classification, sorted by name."""

    changes: tuple[Change, ...]

    def names(self, status: Status) -> list[str]:
        return [c.name for c in self.changes if c.status is status]

    @property
    def counts(self) -> dict[Status, int]:
        return {s: sum(1 for c in self.changes if c.status is s) for s in Status}

    @property
    def target(self) -> dict[str, RegistryValue]:
        """The entries the registry holds after the update."""
        return {c.name: c.new for c in self.changes}

    @property
    def is_noop(self) -> bool:
        return all(c.status in (Status.UNCHANGED, Status.KEPT) for c in self.changes)

    def summary(self) -> str:
        return ", ".join(f"{n} {s}" for s, n in self.counts.items())


def plan_update(current: Registry, entries: Sequence[CacheEntry]) -> RegistryUpdate:
    """Classify every name of the registry and of the discovered entries; the new path is the destination."""
    wanted: dict[str, RegistryValue] = {}
    for e in entries:
        value = RegistryValue(e.t, e.destination)
        if wanted.setdefault(e.name, value) != value:
            raise RegistryError(f"the cache entries list {e.name} twice with different values; re-run `logcache discover`")
    changes = []
    for name in sorted(wanted.keys() | current.entries.keys()):
        old, new = current.entries.get(name), wanted.get(name)
        if new is None:
            assert old is not None
            changes.append(Change(name, Status.KEPT, old, old))
        elif old is None:
            changes.append(Change(name, Status.ADDED, None, new))
        else:
            changes.append(Change(name, Status.UNCHANGED if old == new else Status.CHANGED, old, new))
    return RegistryUpdate(tuple(changes))
