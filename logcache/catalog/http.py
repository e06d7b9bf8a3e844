"""`kind = "http"`: the nightly runs from a metadata service's JSON endpoint.

`GET <url>` answers `{"transactions": [...], "next": <URL or null>}` (README, "Catalog
sources"); pages are followed until `next` is null. A relative `next` is resolved against
the page's URL. The bearer token comes from the environment variable `[catalog] token_env`
names, read when a request is made and never written anywhere; it is only ever sent to the
configured URL's own scheme, host and port, so neither a `next` link nor a redirect can
carry it elsewhere (redirects are not followed at all).
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from urllib.parse import urljoin, urlsplit

from logcache import __version__
from logcache.catalog.documents import CatalogSourceError, Listed, decode_page, parse_listing
from logcache.catalog.files import Transaction

MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_PAGES = 10_000


class CatalogUnreachable(CatalogSourceError):
    """No answer from the catalog service, or an HTTP error other than 401/403."""


class CatalogUnauthorized(CatalogSourceError):
    """The catalog service refused the token (HTTP 401 or 403)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class HttpCatalog:
    def __init__(self, url: str, token_env: str | None, timeout_s: float) -> None:
        self.url = url
        self.token_env = token_env
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirects)

    def transactions(self) -> list[Transaction]:
        headers = {"Accept": "application/json", "User-Agent": f"logcache/{__version__}"}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        listed: list[Listed] = []
        seen: set[str] = set()
        url: str | None = self.url
        while url is not None:
            if url in seen or len(seen) >= MAX_PAGES:
                raise CatalogSourceError(f"the catalog at {self.url} pages in a loop (next {url} again); fix the service")
            seen.add(url)
            items, following = decode_page(self._get(url, headers), url)
            listed += items
            url = self._next(url, following)
        return parse_listing(listed)

    def _token(self) -> str | None:
        if not self.token_env:
            return None
        token = os.environ.get(self.token_env, "").strip()
        if not token:
            raise CatalogUnauthorized(f"the catalog token variable {self.token_env} is not set; export it (the campaign names it in [catalog] token_env)")
        return token

    def _next(self, page: str, following: object) -> str | None:
        if following is None or following == "":
            return None
        if not isinstance(following, str):
            raise CatalogSourceError(f'{page} answered a "next" that is not a URL or null; see README, Catalog sources')
        url = urljoin(page, following)
        if _origin(url) != _origin(self.url):
            raise CatalogSourceError(f"{page} points next to {_origin(url)}, another server than {_origin(self.url)}; the token is only sent to the catalog's own server")
        return url

    def _get(self, url: str, headers: dict[str, str]) -> bytes:
        request = urllib.request.Request(url, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout_s) as reply:
                data = reply.read(MAX_PAGE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise self._http_error(url, exc) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise CatalogUnreachable(f"the catalog at {url} did not answer within {self.timeout_s:g} s; check the service or raise [catalog] timeout_s") from None
            raise CatalogUnreachable(f"cannot reach the catalog at {url} ({reason}); check [catalog] url and that the service is up") from None
        if len(data) > MAX_PAGE_BYTES:
            raise CatalogSourceError(f"{url} answered a page over {MAX_PAGE_BYTES // 2**20} MiB; have the service page its listing")
        return data

    def _http_error(self, url: str, exc: urllib.error.HTTPError) -> CatalogSourceError:
        exc.close()
        if exc.code in (401, 403):
            if self.token_env:
                return CatalogUnauthorized(f"the catalog at {url} refused the token in {self.token_env} (HTTP {exc.code}); renew it and export it again")
            return CatalogUnauthorized(f"the catalog at {url} wants a token (HTTP {exc.code}); set [catalog] token_env to the variable holding it")
        if 300 <= exc.code < 400:
            target = exc.headers.get("Location", "?")
            return CatalogUnreachable(f"the catalog at {url} redirects to {target} (HTTP {exc.code}); put that URL in [catalog] url")
        return CatalogUnreachable(f"the catalog at {url} answered HTTP {exc.code} {exc.reason}; check [catalog] url and the service")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or ""), port
