"""Downloading a ``RECORD_URL`` without opening a hole into the network.

One attempt; connect, read and total timeouts; a size cap; TLS verified unless a setting
relaxes it; at most 5 redirects, each checked. Non-public addresses are refused unless they
fall in ``record_url_allowlist`` (``b24tel.netguard``; docs/reference/telephony.md,
"attachRecord", lists the reference's defects here).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from b24tel import deadline
from b24tel.config import parse_networks
from b24tel.netguard import BlockedAddress, Network, guarded_client
from b24tel.recordings.errors import FetchError
from b24tel.wire.numbers import ascii_int

MAX_REDIRECTS = 5
T = TypeVar("T")
CHUNK = 256 * 1024


def http_error(status: int) -> FetchError:
    return FetchError(f"Server returns HTTP error code {status}")


def transport_error(code: str, message: str) -> FetchError:
    return FetchError(f"{code}: {message}")


def parse_allowlist(text: str) -> list[Network]:
    return parse_networks(text)


@dataclass(frozen=True)
class FetchPolicy:
    allowlist: list[Network]
    connect_timeout: float
    read_timeout: float
    total_timeout: float
    max_size: int
    verify_tls: bool


class SafeFetcher:
    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy

    def _client(self) -> httpx.AsyncClient:
        p = self.policy
        return guarded_client(
            p.allowlist,
            "RECORD_URL (see record_url_allowlist)",
            verify_tls=p.verify_tls,
            timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
        )

    async def fetch_into(
        self, url: str, consume: Callable[[AsyncIterator[bytes]], Awaitable[T]]
    ) -> T:
        """Run ``consume`` on the body of ``url``; FetchError on any failure of the download.
        The total timeout covers the consumer too, so it sits outside the stream."""
        p = self.policy
        try:
            # the download has its own limits: request_deadline does not count it
            with deadline.paused():
                async with asyncio.timeout(p.total_timeout), self._client() as client:
                    return await consume(self._follow(client, url))
        except TimeoutError as exc:
            raise transport_error(
                "TIMEOUT", f"no complete answer within {p.total_timeout:g} s"
            ) from exc
        except httpx.TimeoutException as exc:
            raise transport_error("TIMEOUT", str(exc) or "timed out") from exc
        except httpx.ConnectError as exc:
            cause = exc.__cause__
            if isinstance(cause, BlockedAddress):
                raise transport_error("BLOCKED", str(cause)) from exc
            raise transport_error("CONNECT", str(exc) or "connection failed") from exc
        except httpx.HTTPError as exc:
            raise transport_error("HTTP", str(exc) or type(exc).__name__) from exc

    async def _follow(self, client: httpx.AsyncClient, url: str) -> AsyncIterator[bytes]:
        for _hop in range(MAX_REDIRECTS + 1):
            _check_url(url)
            async with client.stream("GET", url) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise http_error(response.status_code)
                    try:
                        url = urljoin(url, location)
                    except ValueError as exc:
                        raise transport_error("URL", f"bad redirect ({exc})") from exc
                    continue
                if response.status_code != 200:
                    raise http_error(response.status_code)
                declared = response.headers.get("content-length")
                if declared and (ascii_int(declared, 30) or 0) > self.policy.max_size:
                    raise _too_big(self.policy.max_size)
                total = 0
                async for chunk in response.aiter_bytes(CHUNK):
                    total += len(chunk)
                    if total > self.policy.max_size:
                        raise _too_big(self.policy.max_size)
                    yield chunk
                return
        raise transport_error("REDIRECTS", f"more than {MAX_REDIRECTS} redirects")


def _too_big(limit: int) -> FetchError:
    return transport_error("SIZE", f"the recording exceeds the limit of {limit} bytes")


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise transport_error("URL", f"not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise transport_error("URL", "not an absolute http(s) URL")
    if port == 0:
        raise transport_error("URL", "port 0 is not a valid port")


def file_name_from_url(url: str) -> str:
    """The URL's last path segment (attachRecord's default FILENAME)."""
    try:
        path = urlsplit(url).path
    except ValueError:  # not a URL at all: the download refuses it with the reason
        return ""
    return path.rstrip("/").rsplit("/", 1)[-1] or ""
