"""The hand-edited campaign file, `campaign.toml`.

Relative paths in the file are relative to the file's own folder, so a demo world can be
moved or copied as a whole. URLs may be `s3://bucket/prefix`, `file:///abs/dir` or paths.
No credential is ever read from or written to this file: S3 uses a profile name, or the
usual AWS environment.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from state.errors import ConfigFileError

RETRY_MODES = ("standard", "adaptive", "legacy")
BACKENDS = ("local", "dask", "command")
BALANCES = ("size", "alphabetical")
REGISTRY_FORMATS = ("scala",)
CATALOG_KINDS = ("files",)


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    retry_mode: str = "standard"
    max_attempts: int = 10
    # Lists and copies signed and sent without boto3 (see logcache/storage/s3_direct.py);
    # false sends every request through boto3, for a server that rejects them.
    direct_requests: bool = True


@dataclass(frozen=True)
class CopySettings:
    concurrency: int = 64
    overwrite: bool = False


@dataclass(frozen=True)
class ValidationSettings:
    parcel_count: int = 4
    backend: str = "local"
    balance: str = "size"
    scheduler: str | None = None
    template: str | None = None
    heartbeat_stale_s: float = 120.0
    workers: int | None = None


@dataclass(frozen=True)
class CampaignConfig:
    path: Path
    name: str
    source: str
    destination: str
    logs: str
    catalog_kind: str
    catalog: str
    registry: Path
    registry_format: str
    work_dir: Path
    results: str
    s3: S3Settings = field(default_factory=S3Settings)
    copy: CopySettings = field(default_factory=CopySettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)

    @property
    def state_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".state.toml")


def load_config(path: Path) -> CampaignConfig:
    path = Path(path).absolute()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: no such campaign file; create one with `logcache demo-data DIR` or see README") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(f"{path}: not valid TOML ({exc}); fix the file and retry") from None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read ({exc.strerror})") from None
    return _parse(path, raw)


class _Reader:
    def __init__(self, path: Path, table: dict[str, Any], name: str) -> None:
        self.path, self.table, self.name = path, table, name

    def _fail(self, key: str, want: str) -> ConfigFileError:
        where = f"{self.name}.{key}" if self.name else key
        return ConfigFileError(f"{self.path}: `{where}` must be {want}; fix the campaign file and retry")

    def str(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        value = self.table.get(key, default)
        if value is None:
            raise self._fail(key, "set (a string)")
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string")
        if choices and value not in choices:
            raise self._fail(key, "one of " + ", ".join(choices))
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.table.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def int(self, key: str, default: int, low: int = 1) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self._fail(key, f"an integer >= {low}")
        return value

    def opt_int(self, key: str) -> int | None:
        return None if self.table.get(key) is None else self.int(key, 1)

    def float(self, key: str, default: float) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self._fail(key, "a positive number")
        return float(value)

    def bool(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def sub(self, key: str) -> _Reader:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, "a table")
        return _Reader(self.path, value, key)


def resolve_location(base: Path, value: str) -> str:
    """An absolute URL or path for a location written in the campaign file."""
    if "://" in value:
        return value.rstrip("/")
    p = Path(value).expanduser()
    return str((p if p.is_absolute() else base / p).resolve())


def _parse(path: Path, raw: dict[str, Any]) -> CampaignConfig:
    base = path.parent
    top = _Reader(path, raw, "")
    campaign = top.sub("campaign")
    catalog = top.sub("catalog")
    registry = top.sub("registry")
    s3 = top.sub("s3")
    copy = top.sub("copy")
    val = top.sub("validation")
    work_dir = Path(resolve_location(base, campaign.str("work_dir", ".")))
    if "://" in str(campaign.table.get("work_dir", "")):
        raise ConfigFileError(f"{path}: `campaign.work_dir` must be a local folder")
    registry_path = registry.str("path")
    if "://" in registry_path:
        raise ConfigFileError(f"{path}: `registry.path` must be a local file (the registry's repository checkout)")
    return CampaignConfig(
        path=path,
        name=campaign.str("name", path.parent.name or "campaign"),
        source=resolve_location(base, top.sub("source").str("url")),
        destination=resolve_location(base, top.sub("destination").str("url")),
        logs=resolve_location(base, top.sub("logs").str("url")),
        catalog_kind=catalog.str("kind", "files", CATALOG_KINDS),
        catalog=resolve_location(base, catalog.str("url")),
        registry=Path(resolve_location(base, registry_path)),
        registry_format=registry.str("format", "scala", REGISTRY_FORMATS),
        work_dir=work_dir,
        results=resolve_location(base, val.opt_str("results") or str(work_dir / "results")),
        s3=S3Settings(
            endpoint_url=s3.opt_str("endpoint_url"),
            region=s3.opt_str("region"),
            profile=s3.opt_str("profile"),
            retry_mode=s3.str("retry_mode", "standard", RETRY_MODES),
            max_attempts=s3.int("max_attempts", 10),
            direct_requests=s3.bool("direct_requests", True),
        ),
        copy=CopySettings(concurrency=copy.int("concurrency", 64), overwrite=copy.bool("overwrite", False)),
        validation=ValidationSettings(
            parcel_count=val.int("parcel_count", 4),
            backend=val.str("backend", "local", BACKENDS),
            balance=val.str("balance", "size", BALANCES),
            scheduler=val.opt_str("scheduler"),
            template=val.opt_str("template"),
            heartbeat_stale_s=val.float("heartbeat_stale_s", 120.0),
            workers=val.opt_int("workers"),
        ),
    )
