"""Reading and writing `campaign.state.toml`.

Every save is atomic (temp file, fsync, rename, fsync the folder) and keeps the previous
file as `.bak`; loading validates every field's type and never touches the file, so a
bad file is reported, named, and left byte-for-byte as it was.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
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
from state.persist_text import write_bytes_atomic, write_failed


class StateFileError(StateError):
    """The state file is unreadable, malformed, or from a newer logcache."""


class _Bad(Exception):
    """A value that does not fit its field; `where` is filled in on the way out."""

    def __init__(self, want: str, missing: bool = False) -> None:
        super().__init__(want)
        self.want, self.missing = want, missing
        self.where: list[str] = []


Decoder = Callable[[Any], Any]


@functools.cache
def _decoder(tp: Any) -> Decoder:
    """A function decoding one TOML value as `tp`, built once per type: a state with tens of
    thousands of datasets is decoded at the cost of plain function calls, not type analysis
    per value."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = _decoder(next(a for a in typing.get_args(tp) if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if origin is list:
        item = _decoder(typing.get_args(tp)[0])

        def as_list(v: Any) -> list[Any]:
            if not isinstance(v, list):
                raise _Bad("a list")
            out = []
            for i, x in enumerate(v):
                try:
                    out.append(item(x))
                except _Bad as bad:
                    bad.where.insert(0, f"[{i}]")
                    raise
            return out

        return as_list
    if dataclasses.is_dataclass(tp):
        return _table_decoder(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        members = {m.value: m for m in tp}
        want = "one of " + ", ".join(members)

        def as_enum(v: Any) -> Any:
            try:
                return members[v]
            except (KeyError, TypeError):
                raise _Bad(want) from None

        return as_enum
    checks: dict[Any, tuple[Callable[[Any], bool], str, Decoder]] = {
        bool: (lambda v: isinstance(v, bool), "true or false", lambda v: v),
        int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", lambda v: v),
        float: (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number", float),
        str: (lambda v: isinstance(v, str), "a string", lambda v: v),
    }
    if tp not in checks:
        raise TypeError(f"unsupported field type {tp!r}")
    ok, want, convert = checks[tp]

    def scalar(v: Any) -> Any:
        if v is None:
            raise _Bad("set")
        if not ok(v):
            raise _Bad(want)
        return convert(v)

    return scalar


def _table_decoder(cls: type) -> Decoder:
    fields: list[tuple[str, Decoder, bool, bool]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        optional = type(None) in typing.get_args(hint)
        fields.append((f.name, _decoder(hint), has_default, optional))

    def as_table(v: Any) -> Any:
        if not isinstance(v, dict):
            raise _Bad("a table")
        kwargs: dict[str, Any] = {}
        for name, decode, has_default, optional in fields:
            if name not in v:
                if has_default:
                    continue
                if not optional:
                    bad = _Bad("", missing=True)
                    bad.where.insert(0, f".{name}")
                    raise bad
            try:
                kwargs[name] = decode(v.get(name))
            except _Bad as bad:
                bad.where.insert(0, f".{name}")
                raise
        return cls(**kwargs)

    return as_table


def _from_table(path: Path, cls: type, table: dict[str, Any]) -> Any:
    try:
        return _decoder(cls)(table)
    except _Bad as bad:
        where = "".join(bad.where).lstrip(".")
        what = f"{where} is missing" if bad.missing else f"{where} must be {bad.want}"
        raise StateFileError(f"{path}: {what}; restore {path.name}.bak or move the file away") from None


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
    except RecursionError:
        raise StateFileError(f"{path}: nested too deeply to be a campaign state; restore {path.name}.bak or move the file away") from None
    return _state_from_raw(path, raw)


def _state_from_raw(path: Path, raw: dict[str, Any]) -> CampaignState:
    version = raw.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise StateFileError(f"{path}: schema_version is missing or not an integer; restore {path.name}.bak or move the file away")
    if version > SCHEMA_VERSION:
        raise StateFileError(f"{path} was written by a newer logcache (schema {version} > {SCHEMA_VERSION}); upgrade logcache")
    while version < SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version = raw["schema_version"]
    state: CampaignState = _from_table(path, CampaignState, raw)
    names = [s.name for s in state.steps]
    if sorted(names) != sorted(StepName) or len(names) != len(set(names)):
        # Keep the runbook whole: a step lost from the file comes back pending.
        by_name = {s.name: s for s in state.steps}
        state.steps = [by_name.get(n, Step(n)) for n in StepName]
    return state


def parsed_copy_path(path: Path) -> Path:
    """The state's parsed copy, `.<name>.json` beside it.

    Python's TOML parser takes over a second for the 6 MB state of 20,000 datasets; its
    C JSON parser takes 40 ms. The TOML file stays the one the operator reads and edits:
    the copy holds the SHA-256 of the TOML it was made with and is used only while that
    still matches, so a hand edit, a restored `.bak` or a crash between the two writes
    simply falls back to parsing the TOML."""
    return path.with_name(f".{path.name}.json")


def load_state(path: Path) -> CampaignState:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read ({exc.strerror})") from None
    raw = _parsed_copy(path, data)
    if raw is not None:
        return _state_from_raw(path, raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StateFileError(f"{path}: not UTF-8 text; restore {path.name}.bak or move the file away") from None
    return parse_state(path, text)


def _parsed_copy(path: Path, data: bytes) -> dict[str, Any] | None:
    try:
        copy = json.loads(parsed_copy_path(path).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(copy, dict) or copy.get("toml_sha256") != hashlib.sha256(data).hexdigest():
        return None
    raw = copy.get("state")
    return raw if isinstance(raw, dict) else None


Stamp = tuple[int, int, int]


def state_stamp(path: Path) -> Stamp | None:
    """(inode, mtime_ns, size) of the state file, None if there is none: one stat, so a
    watcher can poll it many times a second. Every save replaces the file (a new inode),
    so a save is seen even within the file system's mtime granularity."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def load_or_new(path: Path, campaign_name: str) -> CampaignState:
    return load_state(path) if path.exists() else CampaignState(campaign_name)


def render_state(state: CampaignState) -> bytes:
    return tomli_w.dumps(_encode(state)).encode("utf-8")


def save_state(path: Path, state: CampaignState) -> None:
    """Write the state atomically, the previous file kept as `.bak`; an OS error (full
    disk, read-only folder) is WriteFailed, one line, with the file as it was."""
    table = _encode(state)
    data = tomli_w.dumps(table).encode("utf-8")
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        tmp = path.with_name(f".{path.name}.bak.{os.getpid()}")
        try:
            tmp.unlink(missing_ok=True)
            os.link(path, tmp)
            os.replace(tmp, backup)
        except OSError as exc:
            raise write_failed(backup, exc) from None
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        raise write_failed(path, exc) from None
    copy = {"toml_sha256": hashlib.sha256(data).hexdigest(), "state": table}
    try:
        write_bytes_atomic(parsed_copy_path(path), json.dumps(copy, separators=(",", ":")).encode("utf-8"))
    except OSError:
        pass  # only a speed-up: an old copy no longer matches the TOML, so it is not used
