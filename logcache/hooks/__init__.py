"""Operator commands that logcache runs at the runbook's edges: the image build, the PR,
notifications, and the validation submitter's commands (see `logcache.validation.jobs`).

- `template`: placeholders filled with shell-quoted values.
- `runner`: one command run to its end in its own process group, output streamed and kept.
- `guard`: the script that kills a hook's whole group on cancel or when logcache dies.
- `image`, `pr`, `notify`: the three campaign-level hooks.
"""

from logcache.hooks.runner import HookFailed, HookRun, run_hook

__all__ = ["HookFailed", "HookRun", "run_hook"]
