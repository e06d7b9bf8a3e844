"""logcache: refresh the log cache of a Datomic-on-object-store ETL."""

import os

# Polars' allocator (jemalloc) keeps a thread's freed pages for seconds by default, so a
# validation decoding segment after segment on several threads held each thread's peak
# on top of the others' (large demo world, heaviest shard, log check under a 256 MiB
# budget: 460 MB peak RSS, 377 MB with this, no slower). Set before Polars loads; an
# operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")



def __getattr__(name: str) -> str:
    """`__version__`, read from the installed metadata only when asked: importlib.metadata
    costs every command tens of ms of imports (zipfile, email) that only --version and
    the HTTP catalog's User-Agent use."""
    if name != "__version__":
        raise AttributeError(f"module 'logcache' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("logcache")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0+local"
