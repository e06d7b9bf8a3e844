"""Runbook step 3: copy the cached prefixes from ephemeral to permanent, verified and resumable."""

from logcache.copy.engine import connections_needed, copy_entries
from logcache.copy.events import (
    Conflict,
    CopyEvent,
    CopyFinished,
    CopyPlanned,
    CopyProgress,
    CopyReport,
    DatasetConflict,
    DatasetFailed,
    DatasetPlan,
    DatasetProgress,
    DatasetResult,
    DatasetStatus,
    DatasetVerified,
    Failure,
)
from logcache.entries import select_entries

__all__ = [
    "Conflict",
    "CopyEvent",
    "CopyFinished",
    "CopyPlanned",
    "CopyProgress",
    "CopyReport",
    "DatasetConflict",
    "DatasetFailed",
    "DatasetPlan",
    "DatasetProgress",
    "DatasetResult",
    "DatasetStatus",
    "DatasetVerified",
    "Failure",
    "connections_needed",
    "copy_entries",
    "select_entries",
]
