"""The Textual app: the refresh runbook as a live checklist over the logcache library."""
