"""The runbook's steps over a campaign, one module each: the one place that turns library
results into campaign state. The CLI, the headless driver and the app all call them.

Every module has `run(campaign, on_event, cancel, ...)`: it checks everything it can
refuse before it touches the state (a refused command writes nothing), then runs its work
through `runbook.lifecycle` (running -> done, failed or pending), recording what it found
(datasets, failed paths, the patch, the aggregate). It returns its result; when its goal
is not reached it raises `StepFailed` carrying the partial result, and when cancelled
`StepInterrupted`. Progress goes to an `EventSink` as typed events (runbook/events.py).
Adding a step: a module here, a `StepSpec` naming it in runbook/spec.py, and its name in
`state.model.StepName`.
"""
