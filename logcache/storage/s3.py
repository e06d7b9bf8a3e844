"""S3 storage through boto3, with a configurable endpoint.

One client per opened store, shared by its children and across threads (boto3 clients
are thread-safe once created; sessions are not), its connection pool sized to the
concurrency. Every botocore error is mapped in one place to a typed one-line error.
Listings and single copies go first as direct requests (`s3_direct`), far cheaper in CPU;
boto3 sends whatever those decline.
"""

from __future__ import annotations

import http.client
import io
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

import boto3
import botocore.exceptions as bce
from botocore.config import Config
from botocore.utils import parse_timestamp as default_timestamp_parser
from urllib3.exceptions import HTTPError as Urllib3Error

from logcache.errors import AccessDenied, BucketNotFound, EndpointUnreachable, PathNotFound, ReadInterrupted, StorageError
from logcache.storage.base import ObjectInfo, Store
from logcache.storage.s3_direct import DirectS3, Page, shared_limiter
from state.config import S3Settings

# CopyObject copies up to 5 GiB in one request; above that, multipart UploadPartCopy.
SINGLE_COPY_LIMIT = 5 * 1024**3
READ_BUFFER = 4 << 20
_DENIED = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "AllAccessDisabled"}
_MISSING = {"NoSuchKey", "404", "NotFound"}
# How a body read after botocore's retries (it retries the request, not a body read
# later) fails when the transfer is cut: each is worth another GET of the same range.
_BODY_FAULTS = (
    bce.ResponseStreamingError,
    bce.IncompleteReadError,
    bce.ReadTimeoutError,
    bce.ConnectionClosedError,
    Urllib3Error,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0


def backoff_s(attempt: int) -> float:
    """The wait before retry `attempt` (1, 2, ...): exponential with full jitter, capped
    short so a stop asked for meanwhile is not held up."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))


def retries(settings: S3Settings, profile: dict[str, Any]) -> tuple[str, int]:
    """The retry mode and attempts: the campaign file's, else AWS_RETRY_MODE and
    AWS_MAX_ATTEMPTS, else the profile's, else standard and 10 (botocore's own default,
    legacy, is weaker)."""
    mode = settings.retry_mode or os.environ.get("AWS_RETRY_MODE") or profile.get("retry_mode") or "standard"
    if mode not in ("standard", "adaptive", "legacy"):
        raise StorageError(f"retry mode {mode!r} (from AWS_RETRY_MODE or the profile) is not standard, adaptive or legacy; fix it")
    found = settings.max_attempts or os.environ.get("AWS_MAX_ATTEMPTS") or profile.get("max_attempts") or 10
    try:
        attempts = int(found)
    except ValueError:
        raise StorageError(f"max attempts {found!r} (from AWS_MAX_ATTEMPTS or the profile) is not a number; fix it") from None
    return mode, max(1, attempts)


class _Client:
    """The boto3 client, made on first use: making one costs 0.1-0.3 s of CPU, which a run
    that direct requests serve entirely never needs to spend."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
        return self._client


class S3Store:
    def __init__(
        self, client: _Client, bucket: str, prefix: str, endpoint: str, page_size: int = 1000, direct: DirectS3 | None = None, max_attempts: int = 3
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.page_size = page_size
        self.direct = direct
        self.max_attempts = max(1, max_attempts)

    @classmethod
    def open(cls, rest: str, settings: S3Settings, concurrency: int = 16, page_size: int = 1000) -> S3Store:
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise StorageError("an s3:// URL needs a bucket: s3://bucket/prefix")
        try:
            session = boto3.Session(profile_name=settings.profile) if settings.profile else boto3.Session()
        except bce.ProfileNotFound:
            # Name the profile and where it came from: the settings, or the environment.
            if settings.profile:
                raise AccessDenied(f"AWS profile {settings.profile!r} does not exist (from --profile or [s3].profile); fix it or ~/.aws/config") from None
            wanted = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
            raise AccessDenied(f"AWS profile {wanted!r} does not exist (from AWS_PROFILE); unset it, or add it to ~/.aws/config") from None
        # botocore parses every timestamp with dateutil, a large share of the CPU each small
        # copy costs; S3's XML timestamps are ISO 8601, which the stdlib parses far faster.
        session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_parse_timestamp)
        # Timeouts on every request and a bounded number of attempts: a stalled or
        # unreachable server ends in EndpointUnreachable instead of a wait without end.
        mode, attempts = retries(settings, session._session.get_scoped_config())
        # Adaptive is standard retries plus a client-side rate limiter; the limiter is made
        # here, so the direct requests take their turn from it and tell it of a 503 too.
        limiter = shared_limiter() if mode == "adaptive" else None
        config = Config(
            retries={"mode": "standard" if limiter else mode, "max_attempts": attempts},
            max_pool_connections=max(10, concurrency + 4),
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
        )
        region = settings.region or session.region_name or "us-east-1"

        def make() -> Any:
            made = session.client("s3", endpoint_url=settings.endpoint_url, region_name=region, config=config)
            if limiter is not None:
                made.meta.events.register("before-send", limiter.on_sending_request)
                made.meta.events.register("needs-retry", limiter.on_receiving_response)
            return made

        client = _Client(make)
        direct = None
        if settings.direct_requests:
            # Without an endpoint in the settings, only the client knows AWS's for the region.
            endpoint = settings.endpoint_url or client.get().meta.endpoint_url
            # AWS_CA_BUNDLE or the profile's ca_bundle, as boto3 reads them.
            ca_bundle = session._session.get_config_variable("ca_bundle")
            direct = DirectS3.for_bucket(
                endpoint, bucket, region, session.get_credentials(), ca_bundle, settings.connect_timeout_s, settings.read_timeout_s, limiter
            )
        return cls(client, bucket, prefix, settings.endpoint_url or "AWS S3", page_size, direct, attempts)

    @property
    def client(self) -> Any:
        return self._client.get()

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        key = key.strip("/")
        return f"{self.prefix}/{key}" if self.prefix and key else (self.prefix or key)

    def url_of(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}".rstrip("/")

    def child(self, prefix: str) -> S3Store:
        return S3Store(self._client, self.bucket, self._key(prefix), self.endpoint, self.page_size, self.direct, self.max_attempts)

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except bce.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise PathNotFound(self.url_of(key)) from None
            if code == "NoSuchBucket":
                raise BucketNotFound(f"bucket {self.bucket} does not exist at {self.endpoint}; check the campaign file's locations") from None
            if code in _DENIED:
                raise AccessDenied(f"{self.url_of(key)}: access denied ({code}); check the AWS profile or credentials in use") from None
            raise StorageError(f"{self.url_of(key)}: {code}: {exc.response.get('Error', {}).get('Message', '')}") from None
        except (bce.EndpointConnectionError, bce.ConnectTimeoutError, bce.ConnectionClosedError) as exc:
            raise EndpointUnreachable(f"no S3 server answered at {self.endpoint} ({type(exc).__name__}); check [s3].endpoint_url") from None
        except bce.ReadTimeoutError:
            raise EndpointUnreachable(
                f"the S3 server at {self.endpoint} stopped answering (read timeout, after retries); check the server, then run again"
            ) from None
        except (bce.NoCredentialsError, bce.PartialCredentialsError):
            raise AccessDenied("no AWS credentials found; set [s3].profile or the AWS_* environment") from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self._key(prefix)
        # A trailing slash keeps `cache/abc` from also listing `cache/abcd`.
        wanted = f"{base}/" if base else ""
        root = f"{self.prefix}/" if self.prefix else ""
        token: str | None = None
        while True:
            page = self.direct.list_page(wanted, token, self.page_size) if self.direct else None
            if page is None:
                with self._errors(prefix):
                    page = self._list_page(wanted, token)
            for obj in page.objects:
                yield ObjectInfo(obj.key[len(root):], obj.size, obj.etag, obj.mtime)
            if page.next_token is None:
                return
            token = page.next_token

    def _list_page(self, wanted: str, token: str | None) -> Page:
        extra = {"ContinuationToken": token} if token else {}
        reply = self.client.list_objects_v2(Bucket=self.bucket, Prefix=wanted, MaxKeys=self.page_size, **extra)
        objects = [ObjectInfo(o["Key"], o["Size"], o["ETag"].strip('"'), o["LastModified"].timestamp()) for o in reply.get("Contents", [])]
        return Page(objects, reply.get("NextContinuationToken") if reply.get("IsTruncated") else None)

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(key.strip("/"), head["ContentLength"], head["ETag"].strip('"'), head["LastModified"].timestamp())

    def full_checksum(self, key: str) -> str | None:
        """`<ALGORITHM>:<value>` of the object's full-object additional checksum, or None
        when the server keeps none (or only a composite one, which depends on the parts)."""
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key), ChecksumMode="ENABLED")
        if head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
            return None
        for algorithm in ("CRC64NVME", "CRC32C", "CRC32", "SHA256", "SHA1"):
            value = head.get(f"Checksum{algorithm}")
            # A composite checksum (of the parts) ends in `-<parts>`.
            if value and "-" not in value:
                return f"{algorithm}:{value}"
        return None

    def etag_is_md5(self, key: str) -> bool:
        """Whether the object's ETag is the MD5 of its bytes: not under SSE-KMS (or DSSE-KMS)
        nor SSE-C, whose ETags are opaque and differ between a copy and its source."""
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return not (str(head.get("ServerSideEncryption", "")).startswith("aws:kms") or head.get("SSECustomerAlgorithm"))

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except PathNotFound:
            return False
        return True

    def open_read(self, key: str) -> BinaryIO:
        size = self.stat(key).size
        return io.BufferedReader(_RangeReader(self, key, size), READ_BUFFER)

    def read_bytes(self, key: str) -> bytes:
        return self.get(key)

    def get(self, key: str, first: int | None = None, last: int | None = None) -> bytes:
        """The object's bytes (`first`..`last` inclusive, when given), whole: a body cut
        short is asked for again, within `max_attempts`, then ReadInterrupted."""
        extra = {"Range": f"bytes={first}-{last}"} if first is not None else {}
        fault = ""
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(backoff_s(attempt))
            with self._errors(key):
                reply = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **extra)
            try:
                body: bytes = reply["Body"].read()
            except _BODY_FAULTS as exc:
                fault = type(exc).__name__
                continue
            expected = reply.get("ContentLength")
            if expected is None or len(body) == expected:
                return body
            fault = f"{len(body)} of {expected} bytes"
        raise ReadInterrupted(
            f"reading {self.url_of(key)} was cut short on all {self.max_attempts} attempts ({fault}); check the network to {self.endpoint}, then run again"
        )

    def write_bytes(self, key: str, data: bytes) -> None:
        # A PUT is atomic on S3: readers see the old object or the new one.
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def copy_from(self, source: Store, source_key: str, key: str, size: int | None = None) -> None:
        if isinstance(source, S3Store) and source.endpoint == self.endpoint:
            copy_source = {"Bucket": source.bucket, "Key": source._key(source_key)}
            with self._errors(key), source._errors(source_key):
                if size is not None and size < SINGLE_COPY_LIMIT:
                    # One request and no HEAD: the size came from the listing.
                    if self.direct is None or not self.direct.copy(self._key(key), source.bucket, copy_source["Key"]):
                        self.client.copy_object(Bucket=self.bucket, Key=self._key(key), CopySource=copy_source)
                else:
                    self.client.copy(copy_source, self.bucket, self._key(key), SourceClient=source.client)
            return
        with source.open_read(source_key) as f, self._errors(key):
            self.client.upload_fileobj(f, self.bucket, self._key(key))


class _RangeReader(io.RawIOBase):
    """A seekable reader over ranged GETs, so pyarrow reads a footer without the file."""

    def __init__(self, store: S3Store, key: str, size: int) -> None:
        self.store, self.key, self.size, self.pos = store, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        if self.pos >= self.size:
            return 0
        end = min(self.size, self.pos + len(buffer)) - 1
        body = self.store.get(self.key, self.pos, end)
        n = len(body)
        buffer[:n] = body
        self.pos += n
        return n


def _parse_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return default_timestamp_parser(value)  # e.g. RFC 1123 in HEAD responses
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
