"""Reading and writing `campaign.state.toml`.

Every save is atomic (temp file, fsync, rename, fsync the folder) and keeps the previous
file as `.bak`; loading validates every field's type and never touches the file, so a
bad file is reported, named, and left byte-for-byte as it was.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
import types
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import tomli_w

from state.errors import StateError
from state.model import SCHEMA_VERSION, CampaignState, Step, StepName
from state.persist_text import write_bytes_atomic


class StateFileError(StateError):
    """The state file is unreadable, malformed, or from a newer logcache."""


def _decode(path: Path, where: str, tp: Any, value: Any) -> Any:
    def fail(want: str) -> StateFileError:
        return StateFileError(f"{path}: {where} must be {want}; restore {path.name}.bak or move the file away")

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _decode(path, where, args[0], value)
    if value is None:
        raise fail("set")
    if origin is list:
        if not isinstance(value, list):
            raise fail("a list")
        (item,) = typing.get_args(tp)
        return [_decode(path, f"{where}[{i}]", item, v) for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise fail("a table")
        return _from_table(path, where, tp, value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        choices = [m.value for m in tp]
        if value not in choices:
            raise fail("one of " + ", ".join(choices))
        return tp(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    raise TypeError(f"unsupported field type {tp!r}")


@functools.cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    # Resolving the hints is most of a load's time; a state with thousands of datasets
    # would otherwise resolve them once per row.
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


def _from_table(path: Path, where: str, cls: type, table: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f, hint in _fields(cls):
        if f.name not in table:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if has_default:
                continue
            if type(None) not in typing.get_args(hint):
                raise StateFileError(f"{path}: {where + '.' if where else ''}{f.name} is missing; restore {path.name}.bak or move the file away")
        kwargs[f.name] = _decode(path, f"{where + '.' if where else ''}{f.name}", hint, table.get(f.name))
    return cls(**kwargs)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value) if getattr(value, f.name) is not None}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _migrate_0_to_1(raw: dict[str, Any]) -> dict[str, Any]:
    # Schema 0 called the transaction `snapshot_id` and had no failed-path ledger.
    raw = dict(raw)
    if "snapshot_id" in raw:
        raw["transaction_id"] = raw.pop("snapshot_id")
    raw.setdefault("failed_paths", [])
    raw["schema_version"] = 1
    return raw


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_0_to_1}


def parse_state(path: Path, text: str) -> CampaignState:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StateFileError(f"{path}: not valid TOML ({exc}); restore {path.name}.bak or move the file away") from None
    version = raw.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise StateFileError(f"{path}: schema_version is missing or not an integer; restore {path.name}.bak or move the file away")
    if version > SCHEMA_VERSION:
        raise StateFileError(f"{path} was written by a newer logcache (schema {version} > {SCHEMA_VERSION}); upgrade logcache")
    while version < SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version = raw["schema_version"]
    state: CampaignState = _from_table(path, "", CampaignState, raw)
    names = [s.name for s in state.steps]
    if sorted(names) != sorted(StepName) or len(names) != len(set(names)):
        # Keep the runbook whole: a step lost from the file comes back pending.
        by_name = {s.name: s for s in state.steps}
        state.steps = [by_name.get(n, Step(n)) for n in StepName]
    return state


def load_state(path: Path) -> CampaignState:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StateFileError(f"{path}: not UTF-8 text; restore {path.name}.bak or move the file away") from None
    return parse_state(path, text)


def load_or_new(path: Path, campaign_name: str) -> CampaignState:
    return load_state(path) if path.exists() else CampaignState(campaign_name)


def render_state(state: CampaignState) -> bytes:
    return tomli_w.dumps(_encode(state)).encode("utf-8")


def save_state(path: Path, state: CampaignState) -> None:
    data = render_state(state)
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        tmp = path.with_name(f".{path.name}.bak.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        os.link(path, tmp)
        os.replace(tmp, backup)
    write_bytes_atomic(path, data)
