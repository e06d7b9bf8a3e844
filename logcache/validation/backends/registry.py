"""The validation backends by name: the one place a backend is chosen by its name (the
runbook's validate step, the orchestrator, `logcache validate --backend`). Adding a
backend is one module implementing `base.Backend` plus one entry here (and its name in
`state.config.BACKENDS`, which the campaign file is checked against)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from logcache.errors import UsageError
from logcache.validation.backends.base import Backend
from logcache.validation.backends.command import CommandBackend
from logcache.validation.backends.dask import DaskBackend
from logcache.validation.backends.local import LocalBackend

REGISTRY: Mapping[str, Backend] = MappingProxyType({"local": LocalBackend(), "dask": DaskBackend(), "command": CommandBackend()})
BACKENDS = tuple(REGISTRY)


def backend_named(name: str) -> Backend:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}") from None
