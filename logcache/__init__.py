"""logcache: refresh the log cache of a Datomic-on-object-store ETL."""

import os
from importlib.metadata import PackageNotFoundError, version

# Polars' allocator (jemalloc) keeps a thread's freed pages for seconds by default, so a
# validation decoding segment after segment on several threads held each thread's peak
# on top of the others' (large demo world, heaviest shard, log check under a 256 MiB
# budget: 460 MB peak RSS, 377 MB with this, no slower). Set before Polars loads; an
# operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

try:
    __version__ = version("logcache")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+local"
