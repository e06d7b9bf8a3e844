"""Pre-flight checks: what a run or a step refuses before the state changes, so that a
refused command writes nothing."""

from __future__ import annotations

from logcache.campaign import Campaign
from logcache.catalog import open_catalog
from logcache.errors import UsageError
from logcache.stores import open_destination, open_logs, open_results, open_source
from logcache.validation.backends import BACKENDS, Job, check_command_template, validate_dask_scheduler
from state.config import CampaignConfig


def check_locations(campaign: Campaign) -> None:
    """Open every location the campaign names (nothing is listed or read), so that a
    malformed URL refuses a whole run before its first step changes the state."""
    config = campaign.config
    open_catalog(config)
    for opened in (open_source, open_destination, open_logs, open_results):
        opened(config)


def check_backend(config: CampaignConfig, backend: str, jobs: list[Job], force: bool) -> None:
    """Refuse a backend that cannot run `jobs` before anything starts."""
    if backend == "dask":
        validate_dask_scheduler(config.validation.scheduler)
    elif backend == "command":
        check_command_template(config, jobs, force)
    elif backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
