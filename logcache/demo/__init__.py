"""A deterministic synthetic campaign world, for demos, tests and benchmarks.

`build_world` (used by `logcache demo-data` and `logcache demo`) writes shard logs,
nightly-run catalogs, ephemeral Parquet datasets, a registry and a campaign file, and
records in `truth.json` what it knows, including the faults it injected on purpose.
Nothing here is used by the refresh itself: the one rehearsal that reaches into a run,
a copy vanishing after it was made, plugs in from `lifecycle` (see there).
"""

from logcache.demo.faults import FAULT_KINDS, parse_faults
from logcache.demo.world import SCALES, WorldSummary, build_world

__all__ = ["FAULT_KINDS", "SCALES", "WorldSummary", "build_world", "parse_faults"]
