"""A deterministic synthetic campaign world, for demos, tests and benchmarks.

`build_world` (used by `logcache demo-data` and `logcache demo`) writes shard logs,
nightly-run catalogs, ephemeral Parquet datasets, a registry and a campaign file, and
records in `truth.json` what it knows, including the faults it injected on purpose.
Nothing here is used by the refresh itself, except `lifecycle.ExpiringStore`, which a demo
campaign file switches on to rehearse a copy vanishing after it was made.
"""

from logcache.demo.faults import FAULT_KINDS, parse_faults
from logcache.demo.reference import materialize_reference
from logcache.demo.world import SCALES, WorldSummary, build_world

__all__ = ["FAULT_KINDS", "SCALES", "WorldSummary", "build_world", "materialize_reference", "parse_faults"]
