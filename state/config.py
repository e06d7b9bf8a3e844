"""The hand-edited campaign file, `campaign.toml`.

Relative paths in the file are relative to the file's own folder, so a demo world can be
moved or copied as a whole. URLs may be `s3://bucket/prefix`, `file:///abs/dir` or paths.
No credential is ever read from or written to this file: S3 uses a profile name, or the
usual AWS environment.
"""

from __future__ import annotations

import difflib
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from state.errors import ConfigFileError

RETRY_MODES = ("standard", "adaptive", "legacy")
# The validation backends by name: those of logcache/validation/backends/registry.py (state
# imports nothing of logcache; tests/unit/test_validation_backends.py holds them equal).
BACKENDS = ("local", "dask", "command")
BALANCES = ("size", "alphabetical")
REGISTRY_FORMATS = ("scala",)
CATALOG_KINDS = ("files", "http", "command")
# The placeholders each operator command may use; anything else in braces is refused at
# load time, so a typo fails before any step runs (`{{` and `}}` are literal braces).
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "catalog.command": ("campaign",),
    "image.command": ("campaign", "patch", "branch"),
    "registry.pr_command": ("campaign", "patch", "branch", "report"),
    "notify.command": ("campaign", "event", "message"),
    "validation.submit": ("campaign", "parcel_id", "parcel_count", "label", "args", "image"),
    "validation.status": ("campaign", "parcel_id", "label", "job_id"),
    "validation.logs": ("campaign", "parcel_id", "label", "job_id"),
    "validation.cancel": ("campaign", "parcel_id", "label", "job_id"),
    # Scale-up runs before the job is submitted, so it has no {job_id} yet.
    "validation.scale_up": ("campaign", "parcel_id", "label"),
    "validation.scale_down": ("campaign", "parcel_id", "label", "job_id"),
}


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    # None: not in the campaign file, so AWS_RETRY_MODE / AWS_MAX_ATTEMPTS or the profile's
    # retry_mode / max_attempts apply, else standard and 10 (logcache.storage.s3.retries).
    retry_mode: str | None = None
    max_attempts: int | None = None
    # Lists and copies signed and sent without boto3 (see logcache/storage/s3_direct.py);
    # false sends every request through boto3, for a server that rejects them.
    direct_requests: bool = True
    # Every request gives up after these (connect, then each wait for bytes), so a stalled
    # or unreachable server ends a run instead of hanging it.
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0


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
    # Bytes one validation worker may hold beyond its fixed cost; None: derived from the
    # machine when the work runs (`logcache.validation.budget.worker_budget`).
    worker_memory: int | None = None


@dataclass(frozen=True)
class CatalogSource:
    """How `http` and `command` catalogs are reached (`files` needs only the URL)."""

    # The name of the environment variable holding the bearer token: the token itself is
    # never written to the campaign file or its state.
    token_env: str | None = None
    command: str | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True)
class ImageHook:
    """`[image]`: builds and pushes the ETL image holding the registry patch."""

    command: str | None = None
    tag_pattern: str | None = None
    timeout_s: float = 3600.0


@dataclass(frozen=True)
class PrHook:
    """`[registry] pr_command`: opens the PR once the patch is on its branch."""

    command: str | None = None
    url_pattern: str = r"https?://\S+"
    timeout_s: float = 300.0


@dataclass(frozen=True)
class NotifyHook:
    """`[notify]`: tells a human the campaign needs them."""

    command: str | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True)
class SubmitterSettings:
    """The command backend's asynchronous submitter and per-parcel scaling (`[validation]`)."""

    submit: str | None = None
    job_id_pattern: str | None = None
    status: str | None = None
    logs: str | None = None
    cancel: str | None = None
    scale_up: str | None = None
    scale_down: str | None = None
    nodes: int | None = None
    hourly_cost: float | None = None  # per node and hour, in the operator's currency
    hook_timeout_s: float = 600.0  # for each submit, status, logs, cancel and scale command
    status_every_s: float = 15.0


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
    catalog_source: CatalogSource = field(default_factory=CatalogSource)
    image: ImageHook = field(default_factory=ImageHook)
    pr: PrHook = field(default_factory=PrHook)
    notify: NotifyHook = field(default_factory=NotifyHook)
    submitter: SubmitterSettings = field(default_factory=SubmitterSettings)
    # `[run] confirm`: whether a run asks before its first hook that costs or publishes.
    confirm_run: bool = True

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
    except RecursionError:
        raise ConfigFileError(f"{path}: nested too deeply to be a campaign file; fix the file and retry") from None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read ({exc.strerror})") from None
    return _parse(path, raw)


class _Seen(dict[str, Any]):
    """A table that remembers which keys were asked for: whatever the parser never asks
    for is a key it does not know."""

    def __init__(self, table: dict[str, Any]) -> None:
        super().__init__(table)
        self.seen: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*", re.IGNORECASE)


def parse_size(value: object) -> int:
    """Bytes of "4GiB", "512MiB", "2GB", "1.5G" or an integer (bytes); ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(value)
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(value)
    number, unit, binary = match.groups()
    base = 1024 if binary or not unit else 1000
    size = int(float(number) * base ** " KMGT".index(unit.upper() or " "))
    if size < 1:
        raise ValueError(value)
    return size


class _Reader:
    def __init__(self, path: Path, table: dict[str, Any], name: str, readers: list[_Reader] | None = None) -> None:
        self.path, self.table, self.name = path, _Seen(table), name
        self.readers = readers if readers is not None else []
        self.readers.append(self)

    def refuse_unknown(self) -> None:
        """Refuse a key no reader asked for (a typo would silently keep a default),
        suggesting the nearest known key."""
        for reader in self.readers:
            for key in reader.table.keys() - reader.table.seen:
                where = f"{reader.name}.{key}" if reader.name else key
                close = difflib.get_close_matches(key, sorted(reader.table.seen), n=1, cutoff=0.6)
                hint = f"did you mean `{close[0]}`?" if close else "known keys here: " + ", ".join(sorted(reader.table.seen))
                raise ConfigFileError(f"{self.path}: unknown key `{where}`; {hint} Fix the campaign file and retry")

    def _fail(self, key: str, want: str) -> ConfigFileError:
        where = f"{self.name}.{key}" if self.name else key
        return ConfigFileError(f"{self.path}: `{where}` must be {want}; fix the campaign file and retry")

    def text(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
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

    def integer(self, key: str, default: int, low: int = 1) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self._fail(key, f"an integer >= {low}")
        return value

    def opt_int(self, key: str) -> int | None:
        return None if self.table.get(key) is None else self.integer(key, 1)

    def opt_size(self, key: str) -> int | None:
        value = self.table.get(key)
        if value is None:
            return None
        try:
            return parse_size(value)
        except ValueError:
            raise self._fail(key, 'a size such as "4GiB", "512MiB" or a number of bytes') from None

    def number(self, key: str, default: float) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise self._fail(key, "a positive number")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def opt_float(self, key: str) -> float | None:
        return None if self.table.get(key) is None else self.number(key, 1.0)

    def template(self, key: str) -> str | None:
        """An operator command template whose placeholders are all known."""
        value = self.opt_str(key)
        if value is None:
            return None
        allowed = PLACEHOLDERS[f"{self.name}.{key}"]
        try:
            fields = [(name, conv, spec) for _, name, spec, conv in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise self._fail(key, f"a command template ({exc}; write {{{{ and }}}} for literal braces)") from None
        for name, conv, spec in fields:
            if name not in allowed or conv or spec:
                known = ", ".join("{" + a + "}" for a in allowed)
                raise self._fail(key, f"a command template using only {known} (found {{{name}}}; write {{{{ and }}}} for literal braces)")
        return value

    def pattern(self, key: str) -> str | None:
        value = self.opt_str(key)
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise self._fail(key, f"a regular expression ({exc})") from None
        return value

    def sub(self, key: str) -> _Reader:
        value = self.table.get(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, "a table")
        return _Reader(self.path, value, key, self.readers)


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
    image = top.sub("image")
    notify = top.sub("notify")
    catalog_kind = catalog.text("kind", "files", CATALOG_KINDS)
    work_dir = Path(resolve_location(base, campaign.text("work_dir", ".")))
    if "://" in str(campaign.table.get("work_dir", "")):
        raise ConfigFileError(f"{path}: `campaign.work_dir` must be a local folder")
    if work_dir.exists() and not work_dir.is_dir():
        raise ConfigFileError(f"{path}: `campaign.work_dir` {work_dir} is a file; it must be a folder")
    registry_path = registry.text("path")
    if "://" in registry_path:
        raise ConfigFileError(f"{path}: `registry.path` must be a local file (the registry's repository checkout)")
    config = CampaignConfig(
        path=path,
        name=campaign.text("name", path.parent.name or "campaign"),
        source=resolve_location(base, top.sub("source").text("url")),
        destination=resolve_location(base, top.sub("destination").text("url")),
        logs=resolve_location(base, top.sub("logs").text("url")),
        catalog_kind=catalog_kind,
        catalog=_catalog_url(catalog, base, catalog_kind),
        registry=Path(resolve_location(base, registry_path)),
        registry_format=registry.text("format", "scala", REGISTRY_FORMATS),
        work_dir=work_dir,
        results=resolve_location(base, val.opt_str("results") or str(work_dir / "results")),
        s3=S3Settings(
            endpoint_url=s3.opt_str("endpoint_url"),
            region=s3.opt_str("region"),
            profile=s3.opt_str("profile"),
            retry_mode=s3.text("retry_mode", None, RETRY_MODES) if s3.opt_str("retry_mode") is not None else None,
            max_attempts=s3.opt_int("max_attempts"),
            direct_requests=s3.flag("direct_requests", True),
            connect_timeout_s=s3.number("connect_timeout_s", 5.0),
            read_timeout_s=s3.number("read_timeout_s", 60.0),
        ),
        copy=CopySettings(concurrency=copy.integer("concurrency", 64), overwrite=copy.flag("overwrite", False)),
        validation=ValidationSettings(
            parcel_count=val.integer("parcel_count", 4),
            backend=val.text("backend", "local", BACKENDS),
            balance=val.text("balance", "size", BALANCES),
            scheduler=val.opt_str("scheduler"),
            template=val.opt_str("template"),
            heartbeat_stale_s=val.number("heartbeat_stale_s", 120.0),
            workers=val.opt_int("workers"),
            worker_memory=val.opt_size("worker_memory"),
        ),
        catalog_source=CatalogSource(
            token_env=catalog.opt_str("token_env"),
            command=catalog.template("command") if catalog_kind == "command" else None,
            timeout_s=catalog.number("timeout_s", 30.0),
        ),
        image=_image(image),
        pr=PrHook(registry.template("pr_command"), registry.pattern("pr_url_pattern") or PrHook.url_pattern, registry.number("pr_timeout_s", 300.0)),
        notify=NotifyHook(notify.template("command"), notify.number("timeout_s", 30.0)),
        submitter=_submitter(val),
        confirm_run=top.sub("run").flag("confirm", True),
    )
    top.refuse_unknown()
    if _within(config.destination, config.source):
        raise ConfigFileError(
            f"{path}: the destination {config.destination} is the source or inside it; copies would land among the "
            "objects they are copied from. Give `destination.url` a place of its own"
        )
    return config


def _catalog_url(catalog: _Reader, base: Path, kind: str) -> str:
    if kind == "command":
        if catalog.opt_str("command") is None:
            raise catalog._fail("command", "set when `catalog.kind` is \"command\" (the command that prints the transactions as JSON)")
        return ""
    url = catalog.text("url")
    if kind == "http" and not url.startswith(("http://", "https://")):
        raise catalog._fail("url", "an http:// or https:// URL when `catalog.kind` is \"http\"")
    return resolve_location(base, url)


def _image(image: _Reader) -> ImageHook:
    hook = ImageHook(image.template("command"), image.pattern("tag_pattern"), image.number("timeout_s", 3600.0))
    if hook.command and not hook.tag_pattern:
        raise image._fail("tag_pattern", "set with `image.command` (a regular expression whose first group is the pushed image's tag)")
    return hook


def _submitter(val: _Reader) -> SubmitterSettings:
    submit = val.template("submit")
    settings = SubmitterSettings(
        submit=submit,
        job_id_pattern=val.pattern("job_id_pattern"),
        status=val.template("status"),
        logs=val.template("logs"),
        cancel=val.template("cancel"),
        scale_up=val.template("scale_up"),
        scale_down=val.template("scale_down"),
        nodes=val.opt_int("nodes"),
        hourly_cost=val.opt_float("hourly_cost"),
        hook_timeout_s=val.number("hook_timeout_s", 600.0),
        status_every_s=val.number("status_every_s", 15.0),
    )
    unused = [k for k in ("status", "logs", "cancel", "scale_up", "scale_down") if getattr(settings, k)] if not submit else []
    if unused:
        raise val._fail("submit", f"set for `validation.{unused[0]}` to be used (it belongs to the asynchronous submitter)")
    if submit and not settings.job_id_pattern:
        raise val._fail("job_id_pattern", "set with `validation.submit` (a regular expression whose first group is the job id in its output)")
    if bool(settings.scale_up) != bool(settings.scale_down):
        raise val._fail("scale_down" if settings.scale_up else "scale_up", "set too: machines scaled up must be scaled down")
    if settings.hourly_cost is not None and settings.nodes is None:
        raise val._fail("nodes", "set with `validation.hourly_cost` (the nodes each parcel holds)")
    return settings


def _within(inner: str, outer: str) -> bool:
    """Whether location `inner` is `outer` or below it (URLs and paths as resolved)."""
    inner, outer = (p.removeprefix("file://").rstrip("/") for p in (inner, outer))
    return inner == outer or inner.startswith(outer + "/")
