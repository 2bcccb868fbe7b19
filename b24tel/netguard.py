"""Outbound HTTP that cannot be turned against the network it runs in: RECORD_URL downloads
and event deliveries connect only to public addresses, unless an allow-list says otherwise.

The check runs on the address each connection actually goes to — after DNS, on every
redirect — so neither a DNS name nor a redirect reaches a refused address. Loopback,
private, link-local, multicast, reserved and unspecified addresses (IPv4 and IPv6,
IPv4-mapped and IPv4 embedded by 6to4, Teredo and NAT64 included) are refused.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    name. ``what`` names the kind of URL and its allow-list setting in refusals."""

    def __init__(self, allowlist: list[Network], what: str) -> None:
        self.allowlist = allowlist
        self.what = what
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
        raise BlockedAddress(f"{reasons[0] if reasons else host}; not allowed for {self.what}")

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise BlockedAddress("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_client(
    allowlist: list[Network],
    what: str,
    *,
    verify_tls: bool,
    timeout: httpx.Timeout,
) -> httpx.AsyncClient:
    """An httpx client whose every connection passes ``refusal``; no redirects followed,
    no proxy variables read."""
    context = verifying_context() if verify_tls else insecure_context()
    transport = httpx.AsyncHTTPTransport(verify=context, retries=0)
    # the same pool httpx builds, with our network backend underneath
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context, network_backend=GuardedBackend(allowlist, what), retries=0
    )
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, trust_env=False, follow_redirects=False
    )


async def host_refusal(host: str, allowlist: list[Network]) -> str | None:
    """Why a URL's host may not be connected to now (every address it resolves to is
    refused, or it does not resolve), or None."""
    try:
        return refusal(ipaddress.ip_address(host.strip("[]")), allowlist)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), 5)
    except (OSError, TimeoutError, UnicodeError, ValueError) as exc:
        return f"{host} does not resolve ({exc})"
    reasons = [refusal(ipaddress.ip_address(str(i[4][0]).split("%")[0]), allowlist) for i in infos]
    return None if any(r is None for r in reasons) else next(r for r in reasons if r)


def verifying_context() -> ssl.SSLContext:
    """The system's trust store as a context, made once per store: loading the store takes
    tens of milliseconds, and an event worker and a fetcher made one each at every start.
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` name another store (OpenSSL reads them), so a
    change of either makes a new context."""
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"), True)


def insecure_context() -> ssl.SSLContext:
    return _context(None, None, False)


@functools.lru_cache(maxsize=8)
def _context(_file: str | None, _dir: str | None, verify: bool) -> ssl.SSLContext:
    # the arguments are the cache's key: OpenSSL reads the variables itself
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
