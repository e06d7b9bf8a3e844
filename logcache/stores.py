"""The campaign's stores, opened from its config: every step opens them through here."""

from __future__ import annotations

import importlib
import os

from logcache.errors import ConfigError
from logcache.storage import Store, open_store
from state.config import CampaignConfig

# A rehearsal may stand in for what happens to the destination outside logcache (the
# demo's lifecycle rule that removes a copy after it was verified) by wrapping the
# destination store. The wrapper is named in the environment, `module:function`, so
# every process of a run wraps alike (spawned validation workers and job commands
# inherit it) while the production path imports nothing of it. Only logcache's own
# modules may be named.
DESTINATION_WRAPPER_ENV = "LOGCACHE_DESTINATION_WRAPPER"


def open_source(config: CampaignConfig, concurrency: int = 16) -> Store:
    """The ephemeral area holding each transaction's Parquet (read only: never written)."""
    return open_store(config.source, config.s3, concurrency)


def open_destination(config: CampaignConfig, concurrency: int = 16) -> Store:
    """The permanent cache area that copies go to and validation reads."""
    store = open_store(config.destination, config.s3, concurrency)
    named = os.environ.get(DESTINATION_WRAPPER_ENV)
    if not named:
        return store
    module, _, function = named.partition(":")
    if not module.startswith("logcache.") or not function.isidentifier():
        raise ConfigError(f"{DESTINATION_WRAPPER_ENV}={named!r} must name a logcache function as module:function; unset it")
    try:
        wrap = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError):
        raise ConfigError(f"{DESTINATION_WRAPPER_ENV}={named!r} names no function; unset it") from None
    wrapped: Store = wrap(store, config)
    return wrapped


def open_logs(config: CampaignConfig, concurrency: int = 16) -> Store:
    """The source transaction logs: `<shard>/segment-*.avro`."""
    return open_store(config.logs, config.s3, concurrency)


def open_results(config: CampaignConfig, concurrency: int = 16) -> Store:
    """Where validation writes one small Parquet file per result."""
    return open_store(config.results, config.s3, concurrency)
