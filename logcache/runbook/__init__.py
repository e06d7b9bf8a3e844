"""The runbook over a campaign, the layer the CLI and the app call:

- `spec`: the table of steps (`RUNBOOK`, `SPECS`): titles, manual or not, runner, hint;
- `steps`: a module per step, each `run(campaign, on_event, cancel)`, returning its
  result and raising on failure; `lifecycle`: how every step starts and ends;
- `queries`: read-only views of a campaign for every front end; `checks`: pre-flight;
- `driver`: every open step in order (`logcache run`, the app's "run all");
- `status`: the checklist and what to do next;
- `events`: the typed events the steps report (`RunbookEvent`).
"""

from logcache.runbook.spec import MANUAL_STEPS, RUNBOOK, SPECS, StepSpec

__all__ = ["MANUAL_STEPS", "RUNBOOK", "SPECS", "StepSpec"]
