"""Cache entries: the result of discovery, one per (dataset, kind), kept as `cache-entries.csv`."""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from logcache.datomic.schema import KINDS, VALIDATIONS
from logcache.errors import ConfigError, UnknownDataset
from state.model import CacheRecord
from state.persist_text import write_failed, write_text_atomic

CSV_NAME = "cache-entries.csv"
# T goes into the registry as a Scala Long.
T_LIMIT = 2**63


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def name_problem(dataset: object) -> str | None:
    """Why `dataset` cannot be a shard name, or None. Names travel into CSV cells, comma
    separated `--filter-by-name` lists, `<shard>/<kind>` keys and terminals."""
    if not isinstance(dataset, str) or not dataset.strip():
        return "the dataset name is empty"
    if _has_control(dataset):
        return "the dataset name holds control characters (e.g. terminal escapes)"
    if "," in dataset or "/" in dataset or dataset != dataset.strip():
        return "the dataset name may not hold ',' or '/' or surrounding spaces"
    return None


def kind_problem(kind: object) -> str | None:
    if kind not in KINDS:
        return f"kind {kind!r} is not one of {', '.join(KINDS)}"
    return None


def t_problem(t: object) -> str | None:
    """Why `t` is not a usable T: an integer, 0 <= t < 2^63 (never a float or a bool)."""
    if isinstance(t, bool) or not isinstance(t, int):
        return f"t must be an integer, not {t!r}"
    if not 0 <= t < T_LIMIT:
        return f"t must be between 0 and 2^63 - 1, not {t}"
    return None


def path_problem(path: object) -> str | None:
    """Why `path` (a cache id or a path below a store's root) cannot name one dataset's
    prefix: empty, the root itself, or leaving it through `..`."""
    if not isinstance(path, str) or not path.strip("/"):
        return f"the path {path!r} is empty or the root: it must name one dataset's prefix"
    if _has_control(path):
        return f"the path {path!r} holds control characters"
    if any(part in ("", ".", "..") for part in path.strip("/").split("/")):
        return f"the path {path!r} has an empty, '.' or '..' part"
    return None


def url_problem(url: object) -> str | None:
    """`path_problem` of the path part of a source or destination URL."""
    if not isinstance(url, str) or not url:
        return "the URL is empty"
    rest = url.split("://", 1)[1] if "://" in url else url
    if url.startswith(("s3://", "s3a://")):
        rest = rest.partition("/")[2]  # below the bucket
    return path_problem(rest.rstrip("/"))


@dataclass(frozen=True)
class CacheEntry(CacheRecord):
    """A cache entry (state.model.CacheRecord's fields), with what the library derives from it."""

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
    """The entries of a `cache-entries.csv` text, each value checked where it enters."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ConfigError(f"{origin}: expected the header {','.join(COLUMNS)}; re-run `logcache discover`")
    found: list[CacheEntry] = []
    for row in reader:
        try:
            entry = CacheEntry(
                row["dataset"], row["kind"], int(row["t"]), row["source"], row["destination"], int(row["objects"]), int(row["bytes"])
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: line {reader.line_num} is malformed ({exc}); re-run `logcache discover`") from None
        problem = entry_problem(entry)
        if problem:
            raise ConfigError(f"{origin}: line {reader.line_num}, dataset {entry.dataset!r}: {problem}; fix the file or re-run `logcache discover`")
        found.append(entry)
    return found


def entry_problem(entry: CacheEntry) -> str | None:
    """Why `entry` cannot be used, or None."""
    for problem in (
        name_problem(entry.dataset),
        kind_problem(entry.kind),
        t_problem(entry.t),
        url_problem(entry.source),
        url_problem(entry.destination),
        None if entry.objects >= 0 and entry.bytes >= 0 else "objects and bytes may not be negative",
    ):
        if problem:
            return problem
    return None


def write_entries(path: Path, entries: list[CacheEntry]) -> None:
    try:
        write_text_atomic(path, entries_to_csv(entries))
    except OSError as exc:
        raise write_failed(path, exc) from None


def read_entries(path: Path) -> list[CacheEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run `logcache discover CAMPAIGN` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc}); check the campaign's work_dir") from None
    return entries_from_csv(text, str(path))
