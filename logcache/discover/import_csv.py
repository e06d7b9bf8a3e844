"""Seed a campaign from a cache-entries CSV made by hand (the manual runbook's notebook).

Two shapes are accepted: logcache's own `cache-entries.csv` (with its header), and the
notebook's export, one quoted Scala entry per line, e.g.

    "\"raw-feed-s0/log\" -> LogCacheEntry(t = 1234L, path = s\"s3://ephemeral/4FUNeUsqSRqxORFm0aJ-jA\")",

which the runbook massaged with `sed` (drop the `s` interpolators, undouble the quotes,
strip the outer quotes and trailing comma). The path there is the ephemeral one; the
destination is the same cache id under the campaign's destination.
"""

from __future__ import annotations

import re
from pathlib import Path

from logcache.datomic.schema import KINDS
from logcache.entries import COLUMNS, CacheEntry, entries_from_csv, entry_problem, path_problem, sort_entries, url_problem
from logcache.errors import ConfigError
from logcache.storage import Store

_ENTRY = re.compile(r'^"(?P<name>[^"]+)"\s*->\s*LogCacheEntry\(\s*t\s*=\s*(?P<t>\d+)L?\s*,\s*path\s*=\s*"(?P<path>[^"]+)"\s*\)$')


_INTERPOLATOR = re.compile(r'(?<=[=(,\s])s"')


def _unquote(line: str) -> str:
    text = line.strip().rstrip(",")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    text = text.replace('""', '"').replace('\\"', '"')
    # Drop Scala's `s"..."` interpolator, but only where a string starts: a name such as
    # "raw-x/materialized-entities" also ends in s".
    return _INTERPOLATOR.sub('"', text).strip().rstrip(",")


def parse_entries_csv(text: str, origin: str, destination: Store) -> list[CacheEntry]:
    text = text.removeprefix("\ufeff")  # a spreadsheet's UTF-8 byte order mark
    if text.startswith(",".join(COLUMNS)):
        return entries_from_csv(text, origin)
    found: list[CacheEntry] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _ENTRY.match(_unquote(line))
        if not m:
            raise ConfigError(f"{origin}:{number}: not a cache entry (expected \"<shard>/<kind>\" -> LogCacheEntry(t = T, path = \"URL\"))")
        dataset, _, kind = m["name"].rpartition("/")
        if kind not in KINDS or not dataset:
            raise ConfigError(f"{origin}:{number}: {m['name']!r} is not <shard>/log or <shard>/materialized-entities")
        source = m["path"].replace("s3a://", "s3://").rstrip("/")
        cache_id = source.rsplit("/", 1)[-1]
        problem = url_problem(source) or path_problem(cache_id)
        entry = CacheEntry(dataset, kind, int(m["t"]), source, "" if problem else destination.url_of(cache_id), 0, 0)
        problem = problem or entry_problem(entry)
        if problem:
            raise ConfigError(f"{origin}:{number}: dataset {m['name']!r}: {problem}")
        found.append(entry)
    if not found:
        raise ConfigError(f"{origin}: holds no cache entry")
    return sort_entries(found)


def read_entries_csv(path: Path, destination: Store) -> list[CacheEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc}); check the path") from None
    return parse_entries_csv(text, str(path), destination)
