"""What a pane's row says where no status of the library or the state names it."""

from __future__ import annotations

from enum import StrEnum


class RowStatus(StrEnum):
    """A dataset's live copy status in the Copy pane (the copy's own statuses, plus what
    the plan said before any progress), and a parcel no one follows (`interrupted`)."""

    PENDING = "pending"
    COPYING = "copying"  # planned with objects to copy
    PRESENT = "present"  # planned with nothing to copy
    VERIFIED = "verified"
    FAILED = "failed"
    CONFLICT = "conflict"
    PLANNED = "planned"
    INTERRUPTED = "interrupted"


class Verdict(StrEnum):
    """A validation pair's outcome, as the Results and Failed panes show it."""

    VALID = "valid"
    INVALID = "invalid"
    NOT_CHECKED = "not checked"  # the storage stopped the check, or it never ran: rerun, not a finding
