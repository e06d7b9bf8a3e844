"""Pre-flight checks: what a run or a step refuses before the state changes, so that a
refused command writes nothing."""

from __future__ import annotations

from logcache.campaign import Campaign
from logcache.catalog import open_catalog
from logcache.stores import open_destination, open_logs, open_results, open_source
from logcache.validation.backends.base import ParcelJob
from logcache.validation.backends.registry import backend_named
from state.config import CampaignConfig


def check_locations(campaign: Campaign) -> None:
    """Open every location the campaign names (nothing is listed or read), so that a
    malformed URL refuses a whole run before its first step changes the state."""
    config = campaign.config
    open_catalog(config)
    for opened in (open_source, open_destination, open_logs, open_results):
        opened(config)


def check_backend(config: CampaignConfig, backend: str, jobs: list[ParcelJob], force: bool) -> None:
    """Refuse a backend that cannot run `jobs` before anything starts."""
    backend_named(backend).check(config, jobs, force)
