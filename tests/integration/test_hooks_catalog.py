"""Catalog sources besides `files`: a JSON service over HTTP (a real server on loopback,
with paging and a bearer token) and a command printing the transactions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from support.hooks import write_campaign
from support.servers import http_server

from logcache.catalog import FileCatalog, open_catalog
from logcache.catalog.documents import CatalogSourceError
from logcache.errors import ConfigError, LogcacheError
from logcache.storage import LocalStore
from state.config import load_config
from state.errors import ConfigFileError

TOKEN = "s3cr3t-token-value"


def tx(i: int, status: str = "succeeded", **override: Any) -> dict[str, Any]:
    body = {
        "id": f"tx-{i:03d}",
        "status": status,
        "finished_at": f"2026-11-{10 + i:02d}T04:00:00Z",
        "datasets": [
            {"dataset": f"raw-db{i}-s0", "kind": "log", "path": f"cache{i}a", "t": 100 + i},
            {"dataset": f"raw-db{i}-s0", "kind": "materialized-entities", "path": f"cache{i}b", "t": 100 + i},
        ],
    }
    body.update(override)
    return body


@dataclass
class Service:
    """What the loopback catalog answers: `pages[n]` at `/tx?page=n` (page 0 at `/tx`)."""

    pages: list[list[Any]]
    token: str | None = TOKEN
    raw: dict[int, bytes] = field(default_factory=dict)  # page -> a body sent as is
    next_of: dict[int, str] = field(default_factory=dict)  # page -> a `next` sent as is
    delay_s: float = 0.0
    status: int = 200
    location: str = ""
    seen_auth: list[str] = field(default_factory=list)


def _handler(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            service.seen_auth.append(auth)
            time.sleep(service.delay_s)
            if service.token is not None and auth != f"Bearer {service.token}":
                return self._send(401, b'{"error": "unauthorized"}')
            if service.status != 200:
                self.send_response(service.status)
                self.send_header("Location", service.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            page = int(self.path.partition("page=")[2] or 0)
            if page in service.raw:
                return self._send(200, service.raw[page])
            following = service.next_of.get(page, f"/tx?page={page + 1}" if page + 1 < len(service.pages) else None)
            return self._send(200, json.dumps({"transactions": service.pages[page], "next": following}).encode())

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def service() -> Iterator[tuple[str, Service]]:
    svc = Service(pages=[[tx(3), tx(1, "failed")], [tx(2)], []])
    with http_server(_handler(svc)) as url:
        yield url, svc


def campaign(tmp_path: Path, catalog: str) -> Path:
    return write_campaign(tmp_path, catalog=catalog)


def http_campaign(tmp_path: Path, url: str, extra: str = "") -> Path:
    return campaign(tmp_path, f'kind = "http"\nurl = "{url}/tx"\ntoken_env = "CATALOG_TOKEN"\ntimeout_s = 2\n{extra}')


def cli(*args: object, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CATALOG_TOKEN"}
    if token is not None:
        env["CATALOG_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "logcache", *map(str, args)], capture_output=True, text=True, timeout=60, env=env)


def files_catalog(tmp_path: Path, items: list[dict[str, Any]]) -> list[Any]:
    folder = tmp_path / "files-catalog"
    folder.mkdir()
    for item in items:
        (folder / f"{item['id']}.json").write_text(json.dumps(item))
    return FileCatalog(LocalStore(folder)).transactions()


def test_http_catalog_pages_with_the_token_and_matches_the_files_catalog(
    tmp_path: Path, service: tuple[str, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, svc = service
    monkeypatch.setenv("CATALOG_TOKEN", TOKEN)
    config = load_config(http_campaign(tmp_path, url))
    got = open_catalog(config).transactions()
    assert got == files_catalog(tmp_path, [tx(1, "failed"), tx(2), tx(3)])
    assert [t.id for t in got] == ["tx-001", "tx-002", "tx-003"]
    assert svc.seen_auth == [f"Bearer {TOKEN}"] * 3  # all three pages, each with the token
    assert TOKEN not in (tmp_path / "campaign.toml").read_text()


def test_transactions_cli_lists_the_service_and_the_token_is_never_written(tmp_path: Path, service: tuple[str, Service]) -> None:
    url, _ = service
    path = http_campaign(tmp_path, url)
    result = cli("transactions", path, "--pick")
    assert result.returncode == 0, result.stderr
    assert "* tx-003" in result.stdout and "picked tx-003" in result.stdout
    for written in tmp_path.rglob("*"):
        if written.is_file():
            assert TOKEN.encode() not in written.read_bytes(), written


def _one_line_exit_2(result: subprocess.CompletedProcess[str], tmp_path: Path, *needles: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not list(tmp_path.glob("*.state.toml")), "a refused command wrote the state"
    return lines[0]


def test_service_errors_are_one_line_and_exit_2(tmp_path: Path, service: tuple[str, Service]) -> None:
    url, svc = service
    path = http_campaign(tmp_path, url)
    _one_line_exit_2(cli("transactions", path, "--pick", token="wrong"), tmp_path, "HTTP 401", "CATALOG_TOKEN")
    _one_line_exit_2(cli("transactions", path, "--pick", token=None), tmp_path, "CATALOG_TOKEN is not set")

    svc.raw[1] = b'{"transactions": [{"id": "tx-9"'
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "did not answer with JSON", "page=1")
    svc.raw[1] = b"[" * 100_000 + b"]" * 100_000
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "did not answer with JSON")
    svc.raw[1] = b'{"items": []}'
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, '"transactions" list')
    svc.raw[1] = json.dumps({"transactions": [{k: v for k, v in tx(5).items() if k != "datasets"}]}).encode()
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "page=1 transaction #1", "`datasets` must be a list")
    svc.raw[1] = json.dumps({"transactions": [tx(3)]}).encode()
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "tx-003 twice")
    del svc.raw[1]

    svc.next_of[0] = "http://127.0.0.2:9/tx?page=1"
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "another server")
    svc.next_of[0] = "/tx"
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "in a loop")
    del svc.next_of[0]

    svc.status, svc.location = 302, "http://elsewhere.example/tx"
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "redirects to http://elsewhere.example/tx")
    svc.status = 500
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "HTTP 500")
    svc.status = 200

    svc.delay_s = 3.0
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "did not answer within 2 s")


def test_unreachable_service_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = http_campaign(tmp_path, f"http://127.0.0.1:{port}")
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "cannot reach the catalog")


CATALOG_SCRIPT = """\
import json, sys
items = [json.load(open(p)) for p in sys.argv[1:]]
print("fetching from metapod...", file=sys.stderr)
print(json.dumps({"transactions": items}))
"""


def test_command_catalog_runs_a_real_script(tmp_path: Path) -> None:
    items = [tx(1), tx(2, "failed"), tx(3)]
    expected = files_catalog(tmp_path, items)
    script = tmp_path / "list-runs.py"
    script.write_text(CATALOG_SCRIPT)
    files = " ".join(str(p) for p in sorted((tmp_path / "files-catalog").glob("*.json")))
    path = campaign(tmp_path, f'kind = "command"\ncommand = "{sys.executable} {script} {files}"')
    assert open_catalog(load_config(path)).transactions() == expected
    assert "fetching from metapod" in (tmp_path / "jobs" / "catalog.log").read_text()
    result = cli("transactions", path)
    assert result.returncode == 0 and "* tx-003" in result.stdout, result.stderr


def test_command_catalog_failures_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("echo 'metapod: session expired, run nu auth' >&2\nexit 3\n")
    path = campaign(tmp_path, f'kind = "command"\ncommand = "sh {bad}"')
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "catalog hook exited with 3", "session expired")
    bad.write_text("echo 'not json'\n")
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "did not answer with JSON")
    bad.write_text("""echo '[{"id": "x", "status": "succeeded", "finished_at": "2026", "datasets": [{"dataset": "d", "kind": "bogus", "path": "p", "t": 1}]}]'\n""")
    _one_line_exit_2(cli("transactions", path, "--pick"), tmp_path, "kind 'bogus' is not one of")


def test_catalog_config_is_checked_on_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="catalog.command"):
        load_config(campaign(tmp_path, 'kind = "command"'))
    with pytest.raises(ConfigFileError, match=r"http:// or https://"):
        load_config(campaign(tmp_path, 'kind = "http"\nurl = "catalog"'))
    with pytest.raises(ConfigFileError, match=r"\{campaign\}.*found \{tx\}"):
        load_config(campaign(tmp_path, 'kind = "command"\ncommand = "nu runs {tx}"'))
    assert load_config(campaign(tmp_path, 'kind = "command"\ncommand = "jq -n \'{{transactions: []}}\'"')).catalog == ""


def test_source_errors_are_logcache_errors() -> None:
    assert issubclass(CatalogSourceError, LogcacheError) and not issubclass(CatalogSourceError, ConfigError)
