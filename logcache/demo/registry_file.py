"""The demo's cache registry as it stands before a refresh: a Scala source file.

The layout is the one `logcache registry export` maintains (one entry per line, sorted by
key, each ending with a comma, between BEGIN/END markers); the registry parser is written
against exactly this text, so keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

REGISTRY_FILE = "registry/LogCacheEntries.scala"


@dataclass(frozen=True)
class RegistryEntry:
    name: str  # `<shard>/<kind>`
    t: int
    path: str  # full URL of the cached prefix


def render_registry(entries: list[RegistryEntry]) -> str:
    lines = [
        "package common_etl.log_cache",
        "",
        "object LogCacheEntries {",
        "  // BEGIN LOG CACHE ENTRIES (maintained by `logcache registry export`)",
        "  val entries: Map[String, LogCacheEntry] = Map(",
    ]
    lines += [f'    "{e.name}" -> LogCacheEntry(t = {e.t}L, path = "{e.path}"),' for e in sorted(entries, key=lambda e: e.name)]
    lines += ["  )", "  // END LOG CACHE ENTRIES", "}", ""]
    return "\n".join(lines)
