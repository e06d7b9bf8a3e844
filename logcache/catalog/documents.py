"""Transactions that a service or a command returned, read through `FileCatalog`'s parser.

Each transaction object of a listing becomes one JSON document of a small read-only store,
so `http` and `command` catalogs check every transaction exactly as a `files` catalog checks
its files (fields, types, kinds) and sort them the same way. An error names the document by
where it came from (`<url> transaction #3`), not by a file that never existed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from logcache.catalog.files import FileCatalog, Transaction
from logcache.errors import LogcacheError, UsageError
from logcache.storage.base import ObjectInfo, Store


class CatalogSourceError(LogcacheError):
    """A catalog service or command could not be read, or answered with something else
    than the JSON contract (README, "Catalog sources")."""


@dataclass(frozen=True)
class Listed:
    origin: str  # where it came from: a page's URL or the command
    position: int  # 1-based, in its page
    body: Any  # one transaction object as decoded


class _Listing:
    """The Store methods `FileCatalog` reads; writing is refused."""

    def __init__(self, listed: list[Listed]) -> None:
        self._docs = {f"{i:08d}.json": item for i, item in enumerate(listed)}

    @property
    def url(self) -> str:
        return "catalog listing"

    def url_of(self, key: str) -> str:
        item = self._docs[key]
        return f"{item.origin} transaction #{item.position}"

    def child(self, prefix: str) -> Store:
        raise UsageError("a catalog listing has no sub-folders")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key in self._docs:
            if key.startswith(prefix):
                yield ObjectInfo(key, 0, "", 0.0)

    def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, 0, "", 0.0)

    def exists(self, key: str) -> bool:
        return key in self._docs

    def open_read(self, key: str) -> BinaryIO:
        raise UsageError("a catalog listing is read whole")

    def read_bytes(self, key: str) -> bytes:
        return json.dumps(self._docs[key].body).encode()

    def write_bytes(self, key: str, data: bytes) -> None:
        raise UsageError("a catalog listing is read-only")

    def copy_from(self, source: Store, source_key: str, key: str, size: int | None = None) -> None:
        raise UsageError("a catalog listing is read-only")

    def full_checksum(self, key: str) -> str | None:
        return None

    def etag_is_md5(self, key: str) -> bool:
        return True


def decode_page(data: bytes, origin: str) -> tuple[list[Listed], Any]:
    """(the transactions, the `next` value) of one page of the contract: an object
    `{"transactions": [...], "next": ...}`, or a bare list of transactions."""
    try:
        page = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise CatalogSourceError(f"{origin} did not answer with JSON ({str(exc)[:120]}); see README, Catalog sources") from None
    if isinstance(page, list):
        items, following = page, None
    elif isinstance(page, dict) and isinstance(page.get("transactions"), list):
        items, following = page["transactions"], page.get("next")
    else:
        raise CatalogSourceError(f'{origin} answered JSON without a "transactions" list; see README, Catalog sources')
    return [Listed(origin, i, item) for i, item in enumerate(items, 1)], following


def parse_listing(listed: list[Listed]) -> list[Transaction]:
    """Every listed transaction checked by the `files` catalog's parser, oldest first; a
    transaction listed twice (pages that overlap) is refused."""
    for item in listed:
        if not isinstance(item.body, dict):
            raise CatalogSourceError(f"{item.origin} lists a transaction that is not a JSON object; see README, Catalog sources")
    transactions = FileCatalog(_Listing(listed)).transactions()
    seen: set[str] = set()
    for tx in transactions:
        if tx.id in seen:
            raise CatalogSourceError(f"the catalog lists transaction {tx.id} twice; fix the service or command")
        seen.add(tx.id)
    return transactions
