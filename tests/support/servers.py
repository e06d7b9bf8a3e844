"""Servers the tests start on loopback and their helpers: a proxy in front of moto's S3
server (standing in for S3's throttling, and holding copies so a test stops a copy at a
moment it chooses) and `rclone serve s3` (which checks every signature)."""

from __future__ import annotations

import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from logcache.storage.s3_direct import USER_AGENT

RCLONE_KEYS = ("rcaccess", "rcsecret")


@dataclass(frozen=True)
class CopyCampaign:
    """A campaign whose entries are many small objects on the S3 server, reached through a
    proxy that can hold copies, so a test stops a copy half-way at a moment it chooses."""

    path: Path
    client: Any
    bucket: str
    prefixes: int
    total: int
    proxy: S3Proxy


def listing(client: Any, bucket: str, prefix: str) -> list[tuple[str, int, str]]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [(o["Key"][len(prefix):], o["Size"], o["ETag"]) for p in pages for o in p.get("Contents", [])]


class S3Proxy:
    """An HTTP proxy on loopback in front of the moto server. It answers CopyObject requests
    with canned replies while it has any, the way S3 answers when it throttles (503
    SlowDown) or when a request is for another region (301); and it can hold every copy
    after the first `hold_after` until `release()`, so a test interrupts a copy run at a
    known point instead of racing it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.split("//", 1)[1]
        self.canned: list[tuple[int, bytes]] = []
        self.hold_after: int | None = None
        self.released = threading.Event()
        self.copy_requests = 0
        self.direct_copy_requests = 0
        self.lock = threading.Lock()

    def answer(self, method: str, headers: Any) -> tuple[int, bytes] | None:
        if method != "PUT" or "x-amz-copy-source" not in headers:
            return None
        with self.lock:
            self.copy_requests += 1
            self.direct_copy_requests += headers.get("User-Agent") == USER_AGENT
            held = self.hold_after is not None and self.copy_requests > self.hold_after
            canned = self.canned.pop(0) if self.canned else None
        if held:
            self.released.wait(60)
        return canned

    @property
    def holding(self) -> bool:
        return self.hold_after is not None and self.copy_requests > self.hold_after and not self.released.is_set()

    def release(self) -> None:
        self.released.set()


def _proxy_handler(proxy: S3Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: Nagle would hold the second for an ACK.
        disable_nagle_algorithm = True

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            canned = proxy.answer(self.command, self.headers)
            if canned is not None:
                status, payload = canned
                headers = [("Content-Type", "application/xml")]
            else:
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                reply = upstream.getresponse()
                status, payload = reply.status, reply.read()
                headers = [(k, v) for k, v in reply.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                if self.command == "HEAD":
                    headers.append(("Content-Length", reply.getheader("Content-Length", "0")))
                upstream.close()
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_HEAD = do_POST = handle_any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler




def _die_with_parent() -> None:
    """In the child before exec: the kernel kills it when the test process ends."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


@contextmanager
def rclone_server(root: Path, extra: Sequence[str] = ()) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`rclone serve s3` over `root` (each folder a bucket) on a free loopback port, with
    the keys RCLONE_KEYS; it dies with this process, even after a SIGKILL."""
    binary = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", ",".join(RCLONE_KEYS), "--etag-hash", "MD5",
         "--log-level", "ERROR", *extra, str(root)],
        stdout=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - one prctl before exec, no lock taken; the server must die with the tests
    )
    deadline = time.monotonic() + 20
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert time.monotonic() < deadline and proc.poll() is None, "rclone serve s3 did not start"
        time.sleep(0.05)
    try:
        yield proc, port
    finally:
        os.kill(proc.pid, signal.SIGCONT)  # a test may have frozen it
        proc.terminate()
        proc.wait(timeout=10)
