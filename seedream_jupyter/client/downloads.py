"""Fetching result images: which URLs may be fetched, and one streamed, capped attempt.

Result links come from the server, so they are not trusted: only http(s), and by default only
the API's own origin or public addresses (a lying server must not make this machine fetch
``http://169.254.169.254/…`` or an intranet page). A private gateway can allow private
addresses (``allow_private_urls=True`` or ``SEEDREAM_ALLOW_PRIVATE_URLS=1``). Bodies are
streamed with a size cap, never read whole first, and must be a complete JPEG / PNG / WEBP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

from .. import _formats, config
from ..errors import ImageDownloadError, redact
from . import http
from .retry import Retry

EXPIRED_STATUS: Final = frozenset({403, 404, 410})
REDIRECT_STATUS: Final = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS: Final = 5
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


class UrlPolicy:
    """Which image URLs this client fetches."""

    def __init__(self, base_url: str, *, allow_private: bool | None) -> None:
        self._api = _origin(base_url)
        self.allow_private = config.allow_private_urls() if allow_private is None else allow_private

    def trusts_simulator_header(self, url: str) -> bool:
        """True for an answer from the API's own origin when that origin is loopback: the
        simulators this package knows run on 127.0.0.1; anything else claiming to be one is
        treated as a real, billing server."""
        host = self._api[1].strip("[]")
        loopback = host in _LOOPBACK_NAMES or (
            (ip := _literal_ip(host)) is not None and ipaddress.ip_address(ip).is_loopback
        )
        return loopback and self.same_origin(url)

    def same_origin(self, url: str) -> bool:
        """True for a relative URL or one on the API's own scheme, host and port."""
        if not urlsplit(url).scheme:
            return True
        return _origin(url) == self._api

    def check(self, url: str, task_id: str | None) -> None:
        """Refuse what is not an http(s) URL with a host, or names a private address."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ImageDownloadError(
                f"the server gave an image link that is not an http(s) URL ({url[:80]!r}); "
                "not fetching it",
                task_id=task_id,
                url=url,
            )
        host = parts.hostname.lower()
        literal = _literal_ip(host)
        private = host in _LOOPBACK_NAMES or (literal is not None and not _is_public(literal))
        if private:
            self._refuse_private(url, host, task_id)

    def check_peer(self, url: str, response: httpx.Response, task_id: str | None) -> None:
        """Refuse a named host that turned out to live on a private address (checked on the
        connected socket, before the body is read; DNS is not trusted beforehand)."""
        if self.allow_private or self.same_origin(url):
            return
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if isinstance(peer, tuple) and peer and not _is_public(str(peer[0])):
            self._refuse_private(url, str(peer[0]), task_id)

    def _refuse_private(self, url: str, host: str, task_id: str | None) -> None:
        if self.allow_private or self.same_origin(url):
            return
        raise ImageDownloadError(
            f"the server gave an image link on a private or local address ({host}); not "
            "fetching it. For a private gateway set SEEDREAM_ALLOW_PRIVATE_URLS=1.",
            task_id=task_id,
            url=url,
        )


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def timeout_error(url: str, task_id: str | None, seconds: float | None) -> ImageDownloadError:
    return ImageDownloadError(
        f"image download for task {task_id or '?'} did not finish within {seconds or 0:g} s "
        "(the task completed: fetch its images later with sj.load or sj.resume)",
        task_id=task_id,
        url=url,
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers_for: Callable[[str], dict[str, str]],
    task_id: str | None,
    max_bytes: int,
    on_response: Callable[[httpx.Response], None],
    urls: UrlPolicy,
) -> bytes:
    """One download attempt: ``Retry`` for transient trouble, ``ImageDownloadError`` for good.

    Redirects (a CDN, a signed link) are followed by hand, at most ``MAX_REDIRECTS``: each
    hop is checked like the first link, and the key goes only where ``headers_for`` sends it
    (the API's own origin).
    """
    first = url
    for _hop in range(MAX_REDIRECTS + 1):
        found = await _fetch_once(
            client, url, headers_for(url), task_id, max_bytes, on_response, urls
        )
        if isinstance(found, bytes):
            return found
        url = found
        urls.check(url, task_id)
    raise ImageDownloadError(
        f"image for task {task_id or '?'}: more than {MAX_REDIRECTS} redirects",
        task_id=task_id,
        url=first,
    )


async def _fetch_once(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    task_id: str | None,
    max_bytes: int,
    on_response: Callable[[httpx.Response], None],
    urls: UrlPolicy,
) -> bytes | str:
    """The image's bytes, or the URL a redirect points at."""
    what = f"image for task {task_id or '?'}"
    try:
        async with client.stream("GET", url, headers=headers) as response:
            on_response(response)
            urls.check_peer(url, response, task_id)
            location = response.headers.get("location")
            if response.status_code in REDIRECT_STATUS and location:
                await response.aread()
                return str(urljoin(url, location))
            if response.status_code in http.RETRY_STATUS:
                await response.aread()
                error = ImageDownloadError(
                    f"{what}: HTTP {response.status_code}", task_id=task_id, url=url
                )
                raise Retry(error, http.retry_after(response))
            if response.status_code in EXPIRED_STATUS:
                await response.aread()
                message, _ = http.error_detail(response)
                raise ImageDownloadError(
                    f"the image link for task {task_id or '?'} no longer works (HTTP "
                    f"{response.status_code}: {message}); result links expire after 24 h",
                    task_id=task_id,
                    url=url,
                )
            if not response.is_success:
                raise ImageDownloadError(
                    f"{what}: download failed with HTTP {response.status_code}",
                    task_id=task_id,
                    url=url,
                )
            data = await _read_capped(response, max_bytes, what, task_id, url)
            wire = response.num_bytes_downloaded
    except (httpx.TransportError, httpx.DecodingError) as exc:
        reason = redact(str(exc)) or type(exc).__name__
        raise Retry(ImageDownloadError(f"{what}: {reason}", task_id=task_id, url=url)) from None
    expected = response.headers.get("content-length")
    # Content-Length counts bytes on the wire (before any gzip decoding).
    complete = expected is None or not expected.isdigit() or int(expected) in (len(data), wire)
    if complete and _formats.sniff(data[: _formats.HEAD_BYTES]) is not None:
        return data
    raise Retry(
        ImageDownloadError(
            f"{what} arrived incomplete or not as an image ({len(data)} bytes)",
            task_id=task_id,
            url=url,
        )
    )


async def _read_capped(
    response: httpx.Response, max_bytes: int, what: str, task_id: str | None, url: str
) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(what, int(declared), max_bytes, task_id, url)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(what, size, max_bytes, task_id, url)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(
    what: str, size: int, max_bytes: int, task_id: str | None, url: str
) -> ImageDownloadError:
    return ImageDownloadError(
        f"{what} is larger than {_formats.megabytes(max_bytes)} (at least "
        f"{_formats.megabytes(size)}); not keeping it. Raise Client(max_image_bytes=...) if "
        "the server really sends such files.",
        task_id=task_id,
        url=url,
    )
