"""Cache entries: the result of discovery, one per (dataset, kind), kept as `cache-entries.csv`."""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from logcache.datoms import entry_name
from logcache.errors import ConfigError
from state.persist_text import write_text_atomic

CSV_NAME = "cache-entries.csv"


@dataclass(frozen=True)
class CacheEntry:
    dataset: str
    kind: str
    t: int
    source: str
    destination: str
    objects: int
    bytes: int

    @property
    def name(self) -> str:
        return entry_name(self.dataset, self.kind)


COLUMNS = tuple(f.name for f in fields(CacheEntry))


def sort_entries(entries: list[CacheEntry]) -> list[CacheEntry]:
    return sorted(entries, key=lambda e: (e.dataset, e.kind))


def entries_to_csv(entries: list[CacheEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(astuple(e) for e in sort_entries(entries))
    return out.getvalue()


def entries_from_csv(text: str, origin: str) -> list[CacheEntry]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ConfigError(f"{origin}: expected the header {','.join(COLUMNS)}; re-run `logcache discover`")
    try:
        return [
            CacheEntry(r["dataset"], r["kind"], int(r["t"]), r["source"], r["destination"], int(r["objects"]), int(r["bytes"]))
            for r in reader
        ]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: line {reader.line_num} is malformed ({exc}); re-run `logcache discover`") from None


def write_entries(path: Path, entries: list[CacheEntry]) -> None:
    write_text_atomic(path, entries_to_csv(entries))


def read_entries(path: Path) -> list[CacheEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run `logcache discover CAMPAIGN` first") from None
    return entries_from_csv(text, str(path))
