"""The validation backends by name: the one place a backend is chosen by its name (the
runbook's validate step, the orchestrator, `logcache validate --backend`). Adding a
backend is one module implementing `base.Backend` plus one entry here (and its name in
`state.config.BACKENDS`, which the campaign file is checked against)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, Mapping

from logcache.errors import UsageError
from logcache.validation.backends.base import Backend

# Each backend's module and class, imported when the backend is first asked for: the
# local and Dask backends pull in the whole data stack, which a command that only checks
# a campaign's settings (`step`, `status`) does not need.
_HOMES = {
    "local": ("logcache.validation.backends.local", "LocalBackend"),
    "dask": ("logcache.validation.backends.dask", "DaskBackend"),
    "command": ("logcache.validation.backends.command", "CommandBackend"),
}


@functools.cache
def _backend(name: str) -> Backend:
    module, cls = _HOMES[name]
    backend: Backend = getattr(importlib.import_module(module), cls)()
    return backend


class _Registry(Mapping[str, Backend]):
    def __getitem__(self, name: str) -> Backend:
        if name not in _HOMES:
            raise KeyError(name)
        return _backend(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_HOMES)

    def __len__(self) -> int:
        return len(_HOMES)


REGISTRY: Mapping[str, Backend] = _Registry()
BACKENDS = tuple(_HOMES)


def backend_named(name: str) -> Backend:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}") from None
