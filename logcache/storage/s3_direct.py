"""The two requests a copy run sends by the thousand, CopyObject and ListObjectsV2, sent
without boto3's per-request machinery.

boto3 spends 3-4 ms of CPU on each small request (event hooks, parameter models, endpoint
rules, response shapes); with many copies in flight that CPU, not the network, is what
limits a run. Here a request is signed with SigV4 (stdlib hmac) and sent on a keep-alive
`http.client` connection owned by the calling thread: about 0.5 ms.

Only a plain success is handled here. Anything else (an error status, an error body in a
200, a dropped connection) returns None and the caller sends the same request through
boto3, so its retries and backoff (503 SlowDown), redirects and error codes apply
unchanged. A redirect or a rejected request shape means this endpoint wants something
this path does not do; it is then switched off for the rest of the run.

Under the adaptive retry mode the direct requests share boto3's client-side rate limiter
(`shared_limiter`): each takes its turn from the same token bucket, and a 503 SlowDown
here slows boto3's requests as boto3's own 503s do, before boto3 sends the request again.

The exception is a server that does not answer: a refused or timed-out connect, or a
reply that stops arriving for `read_timeout_s`. Sending the same request again through
boto3 would only wait again, so that is EndpointUnreachable, at once.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit
from urllib.request import getproxies, proxy_bypass

from botocore.httpsession import get_cert_path
from botocore.retries import adaptive, bucket, standard, throttling

from logcache.errors import EndpointUnreachable
from logcache.storage.base import ObjectInfo

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
USER_AGENT = "logcache-direct"
# Statuses after which this endpoint is left to boto3: redirects (wrong region, virtual
# host wanted) and 400 (a request shape the server refuses, e.g. a region mismatch).
_SWITCH_OFF = {301, 302, 307, 308, 400}
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


_THROTTLED = {429, 503}


class _Throttling:
    """botocore's throttling detector, which also takes a direct request's own verdict."""

    def __init__(self) -> None:
        self._standard = standard.ThrottlingErrorDetector(retry_event_adapter=standard.RetryEventAdapter())

    def is_throttling_error(self, **kwargs: Any) -> bool:
        if "direct_throttled" in kwargs:
            return bool(kwargs["direct_throttled"])
        return bool(self._standard.is_throttling_error(**kwargs))


def shared_limiter() -> adaptive.ClientRateLimiter:
    """One adaptive rate limiter, as botocore's adaptive mode builds it, for a boto3 client
    (registered on its `before-send` and `needs-retry`) and the direct path together."""
    clock = bucket.Clock()
    return adaptive.ClientRateLimiter(
        rate_adjustor=throttling.CubicCalculator(starting_max_rate=0, start_time=clock.current_time()),
        rate_clocker=adaptive.RateClocker(clock),
        token_bucket=bucket.TokenBucket(max_rate=1, clock=clock),
        throttling_detector=_Throttling(),
        clock=clock,
    )


@dataclass(frozen=True)
class Page:
    objects: list[ObjectInfo]
    next_token: str | None


class DirectS3:
    """Signed single requests to one bucket, one keep-alive connection per thread.

    `bucket_url` addresses the bucket: `https://bucket.s3.region.amazonaws.com` (virtual
    host) or `http://server:9000/bucket` (path style)."""

    def __init__(
        self,
        bucket_url: str,
        region: str,
        credentials: Any,
        ca_bundle: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        limiter: adaptive.ClientRateLimiter | None = None,
    ) -> None:
        parts = urlsplit(bucket_url)
        self.limiter = limiter
        self.host = parts.netloc
        self.server = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path.rstrip("/")
        self.region = region
        self.credentials = credentials
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.enabled = True
        self._local = threading.local()
        self._keys: dict[tuple[str, str], bytes] = {}
        self._ssl = ssl.create_default_context(cafile=ca_bundle or get_cert_path(True)) if parts.scheme == "https" else None

    @classmethod
    def for_bucket(
        cls,
        endpoint_url: str,
        bucket: str,
        region: str,
        credentials: Any,
        ca_bundle: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        limiter: adaptive.ClientRateLimiter | None = None,
    ) -> DirectS3 | None:
        """For the bucket at boto3's resolved endpoint, addressed as boto3 would, trusting
        boto3's CA bundle; None where boto3 must do it all: no credentials, or a proxy in
        the way (http.client uses none)."""
        parts = urlsplit(endpoint_url)
        host = parts.hostname or ""
        if credentials is None or (getproxies().get(parts.scheme) and not proxy_bypass(host)):
            return None
        # AWS wants virtual hosts; a dotted bucket name would not match its TLS certificate.
        if host.endswith(".amazonaws.com") and "." not in bucket:
            return cls(f"{parts.scheme}://{bucket}.{parts.netloc}", region, credentials, ca_bundle, connect_timeout_s, read_timeout_s, limiter)
        return cls(f"{endpoint_url.rstrip('/')}/{bucket}", region, credentials, ca_bundle, connect_timeout_s, read_timeout_s, limiter)

    def copy(self, key: str, source_bucket: str, source_key: str) -> bool:
        """CopyObject, server-side; False if boto3 must take this one."""
        source = quote(f"/{source_bucket}/{source_key}", safe="/~")
        reply = self._send("PUT", f"/{key}", {}, {"x-amz-copy-source": source})
        # S3 may answer 200 and still fail the copy, with an <Error> body.
        return reply is not None and b"<CopyObjectResult" in reply and b"<Error>" not in reply

    def list_page(self, prefix: str, token: str | None, page_size: int) -> Page | None:
        """One ListObjectsV2 page; None if boto3 must take it."""
        query = {"list-type": "2", "prefix": prefix, "max-keys": str(page_size), "encoding-type": "url"}
        if token:
            query["continuation-token"] = token
        reply = self._send("GET", "", query, {})
        if reply is None:
            return None
        try:
            return _parse_listing(reply)
        except (ET.ParseError, KeyError, ValueError, TypeError):
            return None

    def _send(self, method: str, path: str, query: dict[str, str], extra: dict[str, str]) -> bytes | None:
        if not self.enabled:
            return None
        target = quote(f"{self.base_path}{path}", safe="/~") or "/"
        qs = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(query.items()))
        headers = self._sign(method, target, qs, {"host": self.host, **extra})
        try:
            conn = self._connection()
        except ssl.SSLError:
            return None  # boto3 says what is wrong with the certificate
        if self.limiter is not None:
            self.limiter.on_sending_request(request=None)
        try:
            conn.request(method, f"{target}?{qs}" if qs else target, headers={**headers, "User-Agent": USER_AGENT})
            response = conn.getresponse()
            body = response.read()
        except TimeoutError:
            self._drop()
            raise EndpointUnreachable(
                f"the S3 server at {self.server} stopped answering (no reply within {self.read_timeout_s:g} s); "
                "check the server, then run again"
            ) from None
        except (OSError, http.client.HTTPException):
            # A keep-alive connection the server closed, or a reset: a fresh one next time.
            self._drop()
            return None
        if self.limiter is not None:
            self.limiter.on_receiving_response(direct_throttled=response.status in _THROTTLED or b"<Code>SlowDown</Code>" in body)
        if response.status in _SWITCH_OFF:
            self.enabled = False
        if response.status != 200:
            if response.getheader("connection", "").lower() == "close":
                self._drop()
            return None
        return body

    def _sign(self, method: str, target: str, qs: str, headers: dict[str, str]) -> dict[str, str]:
        creds = self.credentials.get_frozen_credentials()
        now = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        headers["x-amz-date"] = now
        headers["x-amz-content-sha256"] = EMPTY_SHA256
        if creds.token:
            headers["x-amz-security-token"] = creds.token
        names = sorted(headers)
        signed = ";".join(names)
        canonical_headers = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
        canonical = f"{method}\n{target}\n{qs}\n{canonical_headers}\n{signed}\n{EMPTY_SHA256}"
        scope = f"{now[:8]}/{self.region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{now}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(creds.secret_key, now[:8]), to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
        return headers

    def _signing_key(self, secret: str, day: str) -> bytes:
        # Derived once per day and secret: four HMACs saved on every request.
        found = self._keys.get((secret, day))
        if found is None:
            found = _hmac(f"AWS4{secret}".encode(), day)
            for part in (self.region, "s3", "aws4_request"):
                found = _hmac(found, part)
            self._keys = {(secret, day): found}
        return found

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._ssl is not None:
                conn = http.client.HTTPSConnection(self.host, timeout=self.connect_timeout_s, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(self.host, timeout=self.connect_timeout_s)
            self._local.conn = conn
        if conn.sock is None:
            self._connect(conn)
        return conn

    def _connect(self, conn: http.client.HTTPConnection) -> None:
        # Connected here, not lazily by `request`, so the connect has its own timeout
        # and the reads then wait at most `read_timeout_s` each.
        try:
            conn.connect()
        except ssl.SSLError:
            self._drop()
            raise
        except OSError as exc:
            self._drop()
            raise EndpointUnreachable(
                f"no S3 server answered at {self.server} ({exc.strerror or type(exc).__name__}); check [s3].endpoint_url"
            ) from None
        conn.sock.settimeout(self.read_timeout_s)

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _parse_listing(body: bytes) -> Page:
    root = ET.fromstring(body)
    ns = _NS if root.tag.startswith(_NS) else ""
    key, size, etag, modified = (f"{ns}{tag}" for tag in ("Key", "Size", "ETag", "LastModified"))
    objects = [
        ObjectInfo(
            unquote_plus(item.findtext(key, "")),  # encoding-type=url: form-encoded, space as +
            int(item.findtext(size, "")),
            item.findtext(etag, "").strip('"'),
            datetime.fromisoformat(item.findtext(modified, "")).timestamp(),
        )
        for item in root.iter(f"{ns}Contents")
    ]
    if root.findtext(f"{ns}IsTruncated") != "true":
        return Page(objects, None)
    token = root.findtext(f"{ns}NextContinuationToken")
    if not token:
        raise ValueError("a truncated listing without a continuation token")
    return Page(objects, token)
