"""The next actions (`runbook.next_actions`) in the app's words: the key that does each
one here, never the CLI command that does it from a shell."""

from __future__ import annotations

from logcache.runbook.next_actions import Action, ActionKind

# The Failed pane's key for each kind: a log problem is fixed in its store, then its
# pairs validated again, like a pair without a result.
KEYS = {ActionKind.RECOPY: "c", ActionKind.EXCLUDE: "l", ActionKind.LOG: "v", ActionKind.REVALIDATE: "v"}
HOW = {
    ActionKind.RECOPY: "c re-copies and re-validates them",
    ActionKind.EXCLUDE: "l leaves the selected one out, with a reason",
    ActionKind.LOG: "once the log store is fixed, v validates the selected pair again",
    ActionKind.REVALIDATE: "v validates the selected pair again",
}


def short(action: Action) -> str:
    """The header's few words: what to do first, and where."""
    count = len(action.names)
    return {
        ActionKind.RECOPY: f"re-copy {count} datasets (c in 3 Failed)",
        ActionKind.EXCLUDE: f"leave {count} datasets out of the patch (l in 3 Failed)",
        ActionKind.LOG: "fix a shard's log, then validate again (v in 3 Failed)",
        ActionKind.REVALIDATE: "validate the pairs without a result (v in 3 Failed)",
    }[action.kind]


def line(action: Action) -> str:
    """One line of the Failed pane's list: the key, why, and what the key does."""
    return f"{KEYS[action.kind]}  {action.why}; {HOW[action.kind]}"
