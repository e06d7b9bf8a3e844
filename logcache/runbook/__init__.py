"""The runbook over a campaign: each step's function, the driver that runs them in order,
and the status report. The CLI and the app call this layer."""
