"""The registry formats by the name `registry.format` gives them in the campaign file."""

from __future__ import annotations

from collections.abc import Callable

from logcache.errors import ConfigError
from logcache.registry.model import RegistryFormat
from logcache.registry.scala import ScalaRegistry

_FORMATS: dict[str, Callable[[], RegistryFormat]] = {"scala": ScalaRegistry}


def registry_format(name: str) -> RegistryFormat:
    try:
        return _FORMATS[name]()
    except KeyError:
        raise ConfigError(f"unknown registry format {name!r}; use one of: {', '.join(sorted(_FORMATS))}") from None
