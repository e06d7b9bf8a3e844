"""Servers the tests start on loopback and their helpers: a proxy in front of an S3 server
(standing in for S3's faults: throttling, cut bodies, expired credentials, KMS ETags; and
holding copies so a test stops a copy at a moment it chooses) and `rclone serve s3`
(which checks every signature)."""

from __future__ import annotations

import ctypes
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

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


SLOW_DOWN_BODY = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
EXPIRED_BODY = b"<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"
_LISTED = re.compile(rb"<Contents>(.*?)</Contents>", re.DOTALL)
_ETAG = re.compile(rb"<ETag>[^<]*</ETag>")


def request_kind(method: str, path: str, headers: Any) -> str:
    """What an S3 request is, for the proxy's counters: LIST, GET, HEAD, PUT, COPY, POST."""
    parts = urlsplit(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    has_key = "/" in parts.path.strip("/")
    if method == "GET" and ("list-type" in query or not has_key):
        return "LIST"
    if method == "PUT" and "x-amz-copy-source" in headers:
        return "COPY"
    return method


def kms_etag(bucket: str, key: str, etag: str) -> str:
    """An opaque ETag as SSE-KMS gives one: not the MD5 of the bytes, and another one for
    the same bytes at another key (a copy)."""
    return '"' + hashlib.sha256(f"{bucket}/{key}/{etag}".encode()).hexdigest()[:32] + '"'


class S3Proxy:
    """An HTTP proxy on loopback in front of an S3 server (moto, `rclone serve s3`).

    - `canned`: CopyObject requests are answered with these replies while any are left, the
      way S3 answers when it throttles (503 SlowDown) or wants another region (301);
    - `hold_after`: every copy after the first `hold_after` is held until `release()`, so a
      test interrupts a copy run at a known point instead of racing it;
    - `cut_every`: one object GET in N (ranged or not) sends its headers and half its body,
      then closes the connection, as a network that drops a transfer does. Counted per
      object (from an offset its key picks), so a quarter of the GETs are cut however the
      requests of concurrent readers interleave, and with N >= 2 an object's retry after
      a cut is never cut again: a test of retries that cannot fail by coincidence;
    - `slowdown_every`: every Nth request of any kind is answered 503 SlowDown;
    - `expire_after`: once this many requests have been sent, every request is answered
      403 ExpiredToken until the test sets it back to None;
    - `kms_etags`: every ETag (headers, listings, copy results) is rewritten as SSE-KMS
      gives them, with `x-amz-server-side-encryption: aws:kms`.

    `counts` counts requests by kind (`request_kind`), with `direct <kind>` for those the
    direct path sent, and the faults dealt (`cut`, `503`, `expired`)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.split("//", 1)[1]
        self.canned: list[tuple[int, bytes]] = []
        self.hold_after: int | None = None
        self.released = threading.Event()
        self.copy_requests = 0
        self.direct_copy_requests = 0
        self.cut_every = 0
        self.gets_of: Counter[str] = Counter()
        self.slowdown_every = 0
        self.expire_after: int | None = None
        self.kms_etags = False
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, headers: Any) -> tuple[int, bytes] | None:
        """A canned reply for this request, or None to pass it on."""
        kind = request_kind(method, path, headers)
        with self.lock:
            self.counts["all"] += 1
            self.counts[kind] += 1
            if headers.get("User-Agent") == USER_AGENT:
                self.counts[f"direct {kind}"] += 1
            sent = self.counts["all"]
            if self.expire_after is not None and sent > self.expire_after:
                self.counts["expired"] += 1
                return 403, EXPIRED_BODY
            if self.slowdown_every and sent % self.slowdown_every == 0:
                self.counts["503"] += 1
                return 503, SLOW_DOWN_BODY
            if kind != "COPY":
                return None
            self.copy_requests += 1
            self.direct_copy_requests += headers.get("User-Agent") == USER_AGENT
            held = self.hold_after is not None and self.copy_requests > self.hold_after
            canned = self.canned.pop(0) if self.canned else None
        if held:
            self.released.wait(60)
        return canned

    def cut(self, method: str, path: str, headers: Any, status: int, size: int) -> bool:
        """Whether to cut this reply's body half-way."""
        if not self.cut_every or request_kind(method, path, headers) != "GET" or status not in (200, 206) or size < 2:
            return False
        with self.lock:
            self.counts["object GET"] += 1
            self.gets_of[path] += 1
            if (self.gets_of[path] + zlib.crc32(path.encode())) % self.cut_every:
                return False
            self.counts["cut"] += 1
            return True

    def rewrite(self, method: str, path: str, headers: Any, reply: list[tuple[str, str]], payload: bytes) -> tuple[list[tuple[str, str]], bytes]:
        """The reply's headers and body with KMS ETags, when `kms_etags` is on."""
        if not self.kms_etags:
            return reply, payload
        target = urlsplit(path).path.lstrip("/")
        bucket, _, key = target.partition("/")
        key = unquote(key)
        out = [(k, kms_etag(bucket, key, v) if k.lower() == "etag" else v) for k, v in reply]
        out.append(("x-amz-server-side-encryption", "aws:kms"))
        kind = request_kind(method, path, headers)
        if kind == "COPY":
            payload = _ETAG.sub(lambda m: b"<ETag>" + kms_etag(bucket, key, "copy").encode() + b"</ETag>", payload)
        elif kind == "LIST":
            url_encoded = "encoding-type=url" in path

            def listed(m: re.Match[bytes]) -> bytes:
                item = m.group(1)
                found = re.search(rb"<Key>([^<]*)</Key>", item)
                name = found.group(1).decode() if found else ""
                name = unquote_plus(name) if url_encoded else name.replace("&amp;", "&")
                etag = re.search(rb"<ETag>([^<]*)</ETag>", item)
                value = kms_etag(bucket, name, etag.group(1).decode().replace("&quot;", '"') if etag else "")
                return b"<Contents>" + _ETAG.sub(b"<ETag>" + value.replace('"', "&quot;").encode() + b"</ETag>", item) + b"</Contents>"

            payload = _LISTED.sub(listed, payload)
        return out, payload

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
            canned = proxy.answer(self.command, self.path, self.headers)
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
                headers, payload = proxy.rewrite(self.command, self.path, self.headers, headers, payload)
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if proxy.cut(self.command, self.path, self.headers, status, len(payload)):
                # The whole length announced, half of it sent, then the connection closed.
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        do_GET = do_PUT = do_HEAD = do_POST = handle_any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on a free loopback port, on a thread, until the block ends; yields
    the server's `http://host:port`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def proxy_server(upstream: str) -> Iterator[tuple[str, S3Proxy]]:
    """An `S3Proxy` in front of `upstream` (`http://host:port`) on a free loopback port."""
    proxy = S3Proxy(upstream)
    with http_server(_proxy_handler(proxy)) as url:
        try:
            yield url, proxy
        finally:
            proxy.release()


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
