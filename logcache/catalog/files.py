"""Nightly-run transactions, their datasets and the default choice among them, and the
file catalog (a folder of JSON files, one per transaction): what every catalog source
builds on. See the package's doc for the format."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Protocol

from logcache.entries import kind_problem, name_problem, path_problem, t_problem
from logcache.errors import ConfigError, LogcacheError, UsageError
from logcache.storage import Store


@dataclass(frozen=True)
class CatalogDataset:
    dataset: str
    kind: str
    path: str
    t: int


@dataclass(frozen=True)
class Transaction:
    id: str
    status: str
    finished_at: str
    datasets: tuple[CatalogDataset, ...]

    def to_json(self) -> str:
        body = asdict(self)
        body["datasets"] = [asdict(d) for d in self.datasets]
        return json.dumps(body, indent=1, sort_keys=True) + "\n"


class Catalog(Protocol):
    def transactions(self) -> list[Transaction]:
        """Every nightly run, oldest first."""


class UnknownTransaction(LogcacheError):
    """The chosen transaction id is not in the catalog."""


def parse_transaction(data: bytes, origin: str) -> Transaction:
    """One transaction from its JSON (as the file catalog stores it, and as a metadata
    service answers), every value checked where it enters: a bad one is refused in one
    line naming the transaction and the dataset."""
    try:
        raw = json.loads(data)
    except RecursionError:
        raise ConfigError(f"catalog {origin} is nested too deeply to be a transaction; fix or remove it") from None
    except ValueError as exc:  # also a UnicodeDecodeError
        raise ConfigError(f"catalog {origin} is not valid JSON ({str(exc).splitlines()[0]}); fix or remove it") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"catalog {origin} is not a JSON object; fix or remove it")
    fields = {key: raw.get(key) for key in ("id", "status", "finished_at")}
    for key, value in fields.items():
        if not isinstance(value, str) or not value or any(ord(c) < 32 for c in value):
            raise ConfigError(f"catalog {origin}: `{key}` must be a non-empty string of printable characters; fix or remove it")
    tx_id = fields["id"]
    listed = raw.get("datasets")
    if not isinstance(listed, list):
        raise ConfigError(f"catalog {origin}: transaction {tx_id}: `datasets` must be a list; fix or remove it")
    datasets: list[CatalogDataset] = []
    seen: set[tuple[str, str]] = set()
    for number, item in enumerate(listed):
        if not isinstance(item, dict):
            raise ConfigError(f"catalog {origin}: transaction {tx_id}: datasets[{number}] is not an object; fix or remove it")
        dataset, kind, path, t = item.get("dataset"), item.get("kind"), item.get("path"), item.get("t")
        problem = name_problem(dataset) or kind_problem(kind) or path_problem(path) or t_problem(t)
        if problem is None and (dataset, kind) in seen:
            problem = "listed twice"
        if problem:
            name = f"{dataset!r}" if isinstance(dataset, str) else f"datasets[{number}]"
            raise ConfigError(f"catalog {origin}: transaction {tx_id}, dataset {name}: {problem}; fix or remove it")
        assert isinstance(dataset, str) and isinstance(kind, str) and isinstance(path, str) and isinstance(t, int)
        seen.add((dataset, kind))
        datasets.append(CatalogDataset(dataset, kind, path, t))
    return Transaction(tx_id, fields["status"], fields["finished_at"], tuple(datasets))


class FileCatalog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def transactions(self) -> list[Transaction]:
        keys = [info.key for info in self.store.list() if info.key.endswith(".json")]
        if not keys:
            raise ConfigError(f"the catalog {self.store.url} holds no transaction (<id>.json); check [catalog] url in the campaign file")
        found = [parse_transaction(self.store.read_bytes(key), self.store.url_of(key)) for key in keys]
        return sorted(found, key=lambda tx: (tx.finished_at, tx.id))


def pick_transaction(transactions: list[Transaction], wanted: str | None = None) -> Transaction:
    """The wanted transaction, or by default the latest one that succeeded."""
    if wanted:
        for tx in transactions:
            if tx.id == wanted:
                return tx
        raise UnknownTransaction(f"transaction {wanted} is not in the catalog; list them with `logcache transactions CAMPAIGN`")
    good = [tx for tx in transactions if tx.status == "succeeded"]
    if not good:
        raise UsageError("the catalog has no succeeded nightly run; pass --transaction ID to choose one")
    return good[-1]
