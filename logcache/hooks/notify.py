"""Operator notifications: `[notify] command`, run with `{event}` and `{message}` whenever
the campaign needs a human (e.g. a curl to a chat webhook).

A notification that fails must not fail the campaign it reports on: `notify` returns the
failure as one line for the caller to log, and the next event tries again.
"""

from __future__ import annotations

from logcache.hooks.runner import HookFailed, display_line, hook_cwd, jobs_dir, run_hook
from logcache.hooks.template import render
from state.config import CampaignConfig

MANUAL_STEP = "manual-step"  # a step waits for the operator (build image, merge PR)
FAILURE = "failure"  # a step or a hook failed
STUCK = "stuck"  # a parcel's heartbeat went stale
ALL_VALID = "all-valid"  # the aggregate found every row valid
EVENTS = (MANUAL_STEP, FAILURE, STUCK, ALL_VALID)


def notify(config: CampaignConfig, event: str, message: str) -> str | None:
    """Run the notify hook; the failure as one line, or None (sent, or no hook)."""
    hook = config.notify
    if not hook.command:
        return None
    text = display_line(message.replace("\n", " ").encode())
    command = render("notify", hook.command, {"campaign": str(config.path), "event": event, "message": f"{config.name}: {text}"})
    try:
        run_hook("notify", command, log_path=jobs_dir(config) / "notify.log", timeout_s=hook.timeout_s, cwd=hook_cwd(config))
    except HookFailed as exc:
        return exc.one_line()
    return None
