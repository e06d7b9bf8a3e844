"""Nightly-run transactions and their datasets, behind one small interface.

The demo's catalog is a folder of JSON files, one per transaction
(`<catalog>/<transaction id>.json`):

    {"id": "...", "status": "succeeded" | "failed", "finished_at": "2026-11-20T04:12:00Z",
     "datasets": [{"dataset": "raw-feed-s0", "kind": "log",
                   "path": "4FUNeUsqSRqxORFm0aJ-jA", "t": 1234}, ...]}

`path` is relative to the campaign's source (ephemeral) root; `t` is the T the nightly
run recorded, which discovery checks against the Parquet footers. A metadata service
(`http.HttpCatalog`) and a command (`command.CommandCatalog`) list the same objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Protocol

from logcache.datomic.schema import KINDS
from logcache.errors import ConfigError, LogcacheError, UsageError
from logcache.storage import Store, open_store
from state.config import CampaignConfig


@dataclass(frozen=True)
class CatalogDataset:
    dataset: str
    kind: str
    path: str
    t: int


@dataclass(frozen=True)
class Transaction:
    id: str
    status: str
    finished_at: str
    datasets: tuple[CatalogDataset, ...]

    def to_json(self) -> str:
        body = asdict(self)
        body["datasets"] = [asdict(d) for d in self.datasets]
        return json.dumps(body, indent=1, sort_keys=True) + "\n"


class Catalog(Protocol):
    def transactions(self) -> list[Transaction]:
        """Every nightly run, oldest first."""


class UnknownTransaction(LogcacheError):
    """The chosen transaction id is not in the catalog."""


class FileCatalog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def transactions(self) -> list[Transaction]:
        found = [self._read(info.key) for info in self.store.list() if info.key.endswith(".json")]
        return sorted(found, key=lambda tx: (tx.finished_at, tx.id))

    def _read(self, key: str) -> Transaction:
        url = self.store.url_of(key)
        try:
            raw = json.loads(self.store.read_bytes(key))
            datasets = tuple(
                CatalogDataset(str(d["dataset"]), str(d["kind"]), str(d["path"]), int(d["t"])) for d in raw["datasets"]
            )
            tx = Transaction(str(raw["id"]), str(raw["status"]), str(raw["finished_at"]), datasets)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"catalog file {url} is malformed ({exc!s}); fix or remove it") from None
        bad = [d for d in datasets if d.kind not in KINDS]
        if bad:
            raise ConfigError(f"catalog file {url}: unknown dataset kind {bad[0].kind!r} (expected one of {', '.join(KINDS)})")
        return tx


def open_catalog(config: CampaignConfig) -> Catalog:
    if config.catalog_kind == "files":
        return FileCatalog(open_store(config.catalog, config.s3))
    # Imported here: both build on FileCatalog's parser, defined above.
    source = config.catalog_source
    if config.catalog_kind == "http":
        from logcache.catalog.http import HttpCatalog

        return HttpCatalog(config.catalog, source.token_env, source.timeout_s)
    if config.catalog_kind == "command" and source.command:
        from logcache.catalog.command import CommandCatalog

        return CommandCatalog(source.command, config.path, config.work_dir, source.timeout_s)
    raise ConfigError(f"{config.path}: unknown catalog kind {config.catalog_kind!r}")


def pick_transaction(transactions: list[Transaction], wanted: str | None = None) -> Transaction:
    """The wanted transaction, or by default the latest one that succeeded."""
    if wanted:
        for tx in transactions:
            if tx.id == wanted:
                return tx
        raise UnknownTransaction(f"transaction {wanted} is not in the catalog; list them with `logcache transactions CAMPAIGN`")
    good = [tx for tx in transactions if tx.status == "succeeded"]
    if not good:
        raise UsageError("the catalog has no succeeded nightly run; pass --transaction ID to choose one")
    return good[-1]
