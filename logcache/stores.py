"""The campaign's stores, opened from its config: every step opens them through here."""

from __future__ import annotations

from logcache.storage import Store, open_store
from state.config import CampaignConfig


def open_source(config: CampaignConfig, concurrency: int = 16) -> Store:
    """The ephemeral area holding each transaction's Parquet (read only: never written)."""
    return open_store(config.source, config.s3, concurrency)


def open_destination(config: CampaignConfig, concurrency: int = 16) -> Store:
    """The permanent cache area that copies go to and validation reads."""
    store = open_store(config.destination, config.s3, concurrency)
    if config.demo.expire_after_copy:
        from logcache.demo.lifecycle import ExpiringStore

        store = ExpiringStore(store, config.demo.expire_after_copy, config.work_dir / ".demo-lifecycle")
    return store


def open_logs(config: CampaignConfig, concurrency: int = 16) -> Store:
    """The source transaction logs: `<shard>/segment-*.avro`."""
    return open_store(config.logs, config.s3, concurrency)


def open_results(config: CampaignConfig, concurrency: int = 16) -> Store:
    """Where validation writes one small Parquet file per result."""
    return open_store(config.results, config.s3, concurrency)
