"""Downloading a ``RECORD_URL`` without opening a hole into the network.

One attempt; connect, read and total timeouts; a size cap; TLS verified unless a setting
relaxes it; at most 5 redirects. Loopback, private, link-local, multicast, reserved and
unspecified addresses (IPv4 and IPv6, IPv4-mapped included) are refused unless they fall in
``record_url_allowlist``. The check runs on the address each connection actually goes to —
after DNS, on every redirect — so neither a DNS name nor a redirect reaches a refused
address (docs/reference/telephony.md, "attachRecord", lists the reference's defects here).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from b24tel.config import parse_networks
from b24tel.recordings.errors import FetchError

MAX_REDIRECTS = 5
T = TypeVar("T")
CHUNK = 256 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def http_error(status: int) -> FetchError:
    return FetchError(f"Server returns HTTP error code {status}")


def transport_error(code: str, message: str) -> FetchError:
    return FetchError(f"{code}: {message}")


def parse_allowlist(text: str) -> list[Network]:
    return parse_networks(text)


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and a translator would connect to: 6to4
    (2002::/16), Teredo (2001::/32: server and client) and NAT64 (64:ff9b::/96)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def refusal(ip: IPAddress, allowlist: Iterable[Network]) -> str | None:
    """Why ``ip`` may not be fetched from, or None when it may. An IPv6 address that embeds
    an IPv4 one is judged by both."""
    candidates: list[IPAddress]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # the connection goes to the IPv4 address: judge that one
        candidates = [ip.ipv4_mapped]
    elif ip in _NAT64:
        # a NAT64 gateway connects to the IPv4 address (DNS64 gives these for public hosts)
        candidates = [*embedded_ipv4(ip)]
    else:
        candidates = [ip, *embedded_ipv4(ip)]
    for network in allowlist:
        if any(c.version == network.version and c in network for c in candidates):
            return None
    for c in candidates:
        for label, test in (
            ("loopback", c.is_loopback), ("private", c.is_private),
            ("link-local", c.is_link_local), ("multicast", c.is_multicast),
            ("reserved", c.is_reserved), ("unspecified", c.is_unspecified),
            ("non-public", not c.is_global),
        ):  # fmt: skip
            if test:
                embeds = f" (it embeds {c})" if c != ip else ""
                return f"{ip} is a {label} address{embeds}"
    return None


class BlockedAddress(httpcore.ConnectError):
    pass


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, connects only to an allowed address; TLS still verifies
    (and sends SNI for) the host name, because httpcore starts TLS with the origin's
    name."""

    def __init__(self, allowlist: list[Network]) -> None:
        self.allowlist = allowlist
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except (OSError, TimeoutError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        reasons = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            reason = refusal(ip, self.allowlist)
            if reason:
                reasons.append(reason)
                continue
            return await self.inner.connect_tcp(
                str(ip), port, timeout, local_address, socket_options
            )
        raise BlockedAddress(
            f"{reasons[0] if reasons else host}; not allowed for RECORD_URL "
            "(see record_url_allowlist)"
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise BlockedAddress("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


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
        context = ssl.create_default_context() if p.verify_tls else _insecure_context()
        transport = httpx.AsyncHTTPTransport(verify=context, retries=0)
        # the same pool httpx builds, with our network backend underneath
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, network_backend=GuardedBackend(p.allowlist), retries=0
        )
        timeout = httpx.Timeout(p.read_timeout, connect=p.connect_timeout)
        return httpx.AsyncClient(
            transport=transport, timeout=timeout, trust_env=False, follow_redirects=False
        )

    async def fetch_into(
        self, url: str, consume: Callable[[AsyncIterator[bytes]], Awaitable[T]]
    ) -> T:
        """Run ``consume`` on the body of ``url``; FetchError on any failure of the download.
        The total timeout covers the consumer too, so it sits outside the stream."""
        p = self.policy
        try:
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
                if declared and declared.isdigit() and int(declared) > self.policy.max_size:
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


def _insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def file_name_from_url(url: str) -> str:
    """The URL's last path segment (attachRecord's default FILENAME)."""
    try:
        path = urlsplit(url).path
    except ValueError:  # not a URL at all: the download refuses it with the reason
        return ""
    return path.rstrip("/").rsplit("/", 1)[-1] or ""
