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

from logcache.catalog.files import Catalog, CatalogDataset, FileCatalog, Transaction, UnknownTransaction, parse_transaction, pick_transaction
from logcache.errors import ConfigError
from logcache.storage import open_store
from state.config import CampaignConfig

__all__ = ["Catalog", "CatalogDataset", "FileCatalog", "Transaction", "UnknownTransaction", "open_catalog", "parse_transaction", "pick_transaction"]


def open_catalog(config: CampaignConfig) -> Catalog:
    if config.catalog_kind == "files":
        return FileCatalog(open_store(config.catalog, config.s3))
    # Imported on use: only a campaign with such a source pays for its imports.
    source = config.catalog_source
    if config.catalog_kind == "http":
        from logcache.catalog.http import HttpCatalog

        return HttpCatalog(config.catalog, source.token_env, source.timeout_s)
    if config.catalog_kind == "command" and source.command:
        from logcache.catalog.command import CommandCatalog

        return CommandCatalog(source.command, config.path, config.work_dir, source.timeout_s)
    raise ConfigError(f"{config.path}: unknown catalog kind {config.catalog_kind!r}")
