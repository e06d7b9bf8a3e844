"""Cache entries: the result of discovery, one per (dataset, kind), kept as `cache-entries.csv`."""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from logcache.datomic.schema import VALIDATIONS, entry_name
from logcache.errors import ConfigError, UnknownDataset
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

    @property
    def pair(self) -> str:
        """`<dataset>/<validation>`: what checks this entry, as `--filter-by-name` names it."""
        return f"{self.dataset}/{VALIDATIONS[self.kind]}"


def normal_url(url: str) -> str:
    url = url.strip().rstrip("/")
    # Spark writes s3a:// in its missing-path errors (see logcache.errors.MISSING_PATH_PREFIX); it is S3.
    return "s3://" + url[len("s3a://"):] if url.startswith("s3a://") else url


def last_part(url: str) -> str:
    return normal_url(url).rsplit("/", 1)[-1]


def entry_names(entry: CacheEntry) -> set[str]:
    """Every name `--only` accepts for this entry."""
    return {
        entry.name,
        entry.dataset,
        last_part(entry.source),
        last_part(entry.destination),
        normal_url(entry.source),
        normal_url(entry.destination),
    }


def select_entries(entries: Sequence[CacheEntry], only: Iterable[str] | None) -> list[CacheEntry]:
    """The entries named by `only` (all when None), in their original order.

    Raises UnknownDataset, before anything is copied, for a name that matches nothing.
    """
    if only is None:
        return list(entries)
    wanted = [normal_url(n) for n in only]
    names = [entry_names(e) for e in entries]
    for name in wanted:
        if not any(name in n for n in names):
            known = sorted(set().union(*names)) if names else []
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UnknownDataset(
                f"no dataset named {name!r} in the cache entries; {hint}give <shard>/<kind>, a shard, "
                "a cache id or a URL as listed in cache-entries.csv"
            )
    return [e for e, n in zip(entries, names) if any(w in n for w in wanted)]


def owner_of(entries: Sequence[CacheEntry], url: str) -> str:
    """The name of the entry whose source or destination `url` is (as Spark or a copy
    reports it), or "" when none is."""
    wanted = normal_url(url)
    return next((e.name for e in entries if wanted in (normal_url(e.source), normal_url(e.destination))), "")


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
