"""Where parcels run: a local process pool, a Dask cluster, or the operator's own job
submitter.

- `base`: the job types (`ParcelJob`, `JobStarted`, `JobEnd`) and the `Backend` protocol.
- `local`, `dask`, `command`: one module per backend; `follow`: what the local pool and
  Dask share (units submitted, each parcel's heartbeat written by the parent).
- `registry`: the backends by name, the only place one is chosen by its name.

The pool and Dask schedule units (`plan.units`: a shard's whole tasks, or one sub-task
of a heavy shard), so they balance heavy shards themselves; the command backend runs one
`logcache validate --parcel-id` per parcel (the seed's job contract), which runs the
parcel's units in turn. All run `parcel.run_unit_here`, so the same plan gives the same
rows. This package's `__init__` imports only `base`, so `validation.jobs` (the command
backend's submitter, built on `base`) can import it without a loop through `registry`.
"""

from logcache.validation.backends.base import POLL_S, Backend, JobEnd, JobStarted, ParcelJob, RunOptions, Started, Watch

__all__ = ["POLL_S", "Backend", "JobEnd", "JobStarted", "ParcelJob", "RunOptions", "Started", "Watch"]
