"""Runbook step 2: find each dataset's T, object count, bytes and paths.

T comes from Parquet footers (the row-group max of `t`), so a dataset is discovered by
reading a few kilobytes per file instead of its data; only a file without statistics on
`t` is scanned, and the result says which datasets needed that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from logcache.catalog import CatalogDataset, Transaction
from logcache.datomic.schema import entry_name
from logcache.entries import CacheEntry, sort_entries
from logcache.errors import AccessDenied, CorruptData, EndpointUnreachable, PathNotFound, ReadInterrupted, StorageError, missing_path
from logcache.storage import ObjectInfo, Store
from logcache.storage.spark import is_data, is_temporary

FINDING_KINDS = ("missing-path", "corrupt-file", "t-mismatch", "empty")


@dataclass(frozen=True)
class Finding:
    name: str
    kind: str
    message: str


@dataclass(frozen=True)
class DiscoverProgress:
    done: int
    total: int
    name: str


@dataclass(frozen=True)
class Discovery:
    transaction_id: str
    entries: list[CacheEntry]
    findings: list[Finding]
    scanned: list[str]  # entries whose T needed a data scan (no footer statistics)


@dataclass(frozen=True)
class _FileT:
    max_t: int | None
    scanned: bool


def parquet_max_t(store: Store, key: str) -> _FileT:
    """The max `t` of one Parquet file: from row-group statistics, else by reading `t`."""
    # Here, not at the top: every command imports this module's events, few read footers.
    import pyarrow as pa
    import pyarrow.compute
    import pyarrow.parquet as pq

    try:
        with store.open_read(key) as f:
            meta = pq.read_metadata(f)
            index = meta.schema.to_arrow_schema().get_field_index("t")
            if index < 0:
                raise CorruptData(f"{store.url_of(key)} has no column `t`")
            maxima: list[int] = []
            for rg in range(meta.num_row_groups):
                group = meta.row_group(rg)
                if group.num_rows == 0:
                    continue
                stats = group.column(index).statistics
                if stats is None or not stats.has_min_max:
                    f.seek(0)
                    column = pq.read_table(f, columns=["t"]).column("t")
                    top = pa.compute.max(column).as_py()
                    return _FileT(None if top is None else int(top), True)
                maxima.append(int(stats.max))
            return _FileT(max(maxima) if maxima else None, False)
    except (PathNotFound, CorruptData):
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorruptData(f"{store.url_of(key)} is not a readable Parquet file ({str(exc).splitlines()[0]})") from None


def _discover_one(
    source: Store, destination: Store, ds: CatalogDataset, pool: ThreadPoolExecutor
) -> tuple[CacheEntry, list[Finding], bool]:
    name = entry_name(ds.dataset, ds.kind)
    start = len(ds.path.strip("/")) + 1
    # What a copy carries: everything but an unfinished task's `_temporary/` output.
    objects: list[ObjectInfo] = [o for o in source.list(ds.path) if not is_temporary(o.key[start:])]
    entry = CacheEntry(
        dataset=ds.dataset,
        kind=ds.kind,
        t=ds.t,
        source=source.url_of(ds.path),
        destination=destination.url_of(ds.path),
        objects=len(objects),
        bytes=sum(o.size for o in objects),
    )
    if not objects:
        return entry, [Finding(name, "missing-path", missing_path(entry.source))], False
    parquet = [o.key for o in objects if o.key.endswith(".parquet") and is_data(o.key[start:])]
    if not parquet:
        return entry, [Finding(name, "empty", f"{entry.source} holds no Parquet file")], False
    findings: list[Finding] = []
    scanned = False
    maxima: list[int] = []
    for key, result in zip(parquet, pool.map(lambda k: _try_max_t(source, k), parquet)):
        if isinstance(result, StorageError | CorruptData):
            findings.append(Finding(name, "corrupt-file", str(result)))
            continue
        scanned |= result.scanned
        if result.max_t is not None:
            maxima.append(result.max_t)
    if not findings and maxima and max(maxima) != ds.t:
        findings.append(
            Finding(name, "t-mismatch", f"the catalog records t = {ds.t} but the data's max t is {max(maxima)}")
        )
    if not findings and not maxima and ds.t > 0:
        findings.append(Finding(name, "t-mismatch", f"the catalog records t = {ds.t} but {entry.source} holds no rows"))
    return entry, findings, scanned


def _try_max_t(store: Store, key: str) -> _FileT | StorageError | CorruptData:
    try:
        return parquet_max_t(store, key)
    except (EndpointUnreachable, AccessDenied, ReadInterrupted):
        raise  # the server, the credentials or the network, not this file: it stops the discovery, once
    except (StorageError, CorruptData) as exc:
        return exc


def discover(
    transaction: Transaction,
    source: Store,
    destination: Store,
    concurrency: int = 16,
    on_progress: Callable[[DiscoverProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Discovery:
    """Cache entries for every dataset of `transaction`, with findings instead of crashes.

    The entry's T is the one the catalog recorded (what the ETL will trust); a footer that
    disagrees is a `t-mismatch` finding, which validation then reports on that dataset.
    """
    datasets = sorted(transaction.datasets, key=lambda d: (d.dataset, d.kind))
    entries: list[CacheEntry] = []
    findings: list[Finding] = []
    scanned: list[str] = []
    # Footers are read by an inner pool: datasets in flight times files per dataset
    # keeps enough requests outstanding to hide S3 latency.
    files, outer = ThreadPoolExecutor(concurrency), ThreadPoolExecutor(max(1, concurrency // 4))
    try:
        futures = [outer.submit(_discover_one, source, destination, ds, files) for ds in datasets]
        for done, future in enumerate(futures, 1):
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            entry, found, was_scanned = future.result()
            entries.append(entry)
            findings.extend(found)
            if was_scanned:
                scanned.append(entry.name)
            if on_progress:
                on_progress(DiscoverProgress(done, len(datasets), entry.name))
    finally:
        # After an error or a Ctrl-C the datasets not started are dropped: waiting for
        # each of them (on a stalled server, one timeout each) would hang the command.
        outer.shutdown(wait=False, cancel_futures=True)
        files.shutdown(wait=False, cancel_futures=True)
    return Discovery(transaction.id, sort_entries(entries), findings, scanned)
