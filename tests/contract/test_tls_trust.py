"""The outgoing clients' trust store (event delivery, RECORD_URL): loaded once per store and
shared, yet a store named later through ``SSL_CERT_FILE`` is the one the next client
trusts — against an HTTPS server on 127.0.0.1 with the development certificate."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from b24tel.netguard import guarded_client, insecure_context, verifying_context
from tests.conftest import LiveServer

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]
TIMEOUT = httpx.Timeout(5.0)


async def _hello(_request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


@pytest.fixture(scope="module")
def https_url(tls_files: dict[str, Path]) -> Iterator[str]:
    app = Starlette(routes=[Route("/", _hello)])
    app.state.services = None
    with LiveServer(app, ssl=(str(tls_files["cert"]), str(tls_files["key"]))) as server:
        yield server.url + "/"


async def _get(url: str, *, verify: bool = True) -> str:
    async with guarded_client(LOOPBACK, "a test", verify_tls=verify, timeout=TIMEOUT) as c:
        return (await c.get(url)).text


async def test_one_context_per_store_and_a_new_store_is_used(
    https_url: str, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    system = verifying_context()
    assert verifying_context() is system  # made once, not at every start
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await _get(https_url)  # the development CA is not in the system's store
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca"]))
    assert verifying_context() is not system
    assert await _get(https_url) == "hello"
    monkeypatch.delenv("SSL_CERT_FILE")
    assert verifying_context() is system


async def test_without_verification_any_certificate_is_taken(https_url: str) -> None:
    assert insecure_context() is insecure_context()
    assert await _get(https_url, verify=False) == "hello"
