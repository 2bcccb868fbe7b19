"""The portal upstream of a bridge: its incoming webhook (setting ``upstream_url``) or a
local application of it, reached over TLS that is always verified (plain http only to a
loopback address, for tests).

The webhook's code is a secret: it appears in no log line, journal entry or error text —
what is shown is ``shown`` (``https://<portal>/rest/1/***/``).

The client is aiohttp: measured against the same portal, a call through it costs about
0.1 ms of the event loop's time, through httpx about 1 ms — and every call a connector
makes passes here (docs/benchmarks.md, "Bridge mode").
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from b24tel import deadline, masking
from b24tel.bridge import encoding
from b24tel.bridge.oauth import AppTokens, TokenRefused

TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
CHUNK = 64 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """The portal's answer as it came."""

    status: int
    body: bytes
    content_type: str
    duration_ms: float
    sent: int


class UpstreamUnreachable(Exception):
    """No answer from the portal: refused, reset, timed out. Says why without the URL."""


class Upstream:
    def __init__(self, url: str, timeout: float) -> None:
        self.base = url if url.endswith("/") else url + "/"
        self.shown = masking.shown_url(self.base)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None  # made in the running loop
        self.tokens: AppTokens | None = None  # a local application's, else a webhook

    def url_of(self, method: str) -> str:
        return f"{self.base}{method}.json"

    def with_app(self, make: Callable[[Fetch], AppTokens]) -> None:
        """Calls as a local application of the portal (``b24tel.bridge.oauth``)."""
        self.tokens = make(self.get_json)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # the system's trust store, certificates always verified
            connector = aiohttp.TCPConnector(ssl=ssl.create_default_context())
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self._session

    async def call(self, method: str, params: dict[str, Any]) -> Answer:
        """POST the call as JSON; the answer whatever its status. As an application, an
        ``expired_token`` answer refreshes the token and sends the call once more."""
        if self.tokens is None:
            return await self._post(self.url_of(method), params)
        token = await self._token(self.tokens.current)
        answer = await self._post(f"{self.url_of(method)}?auth={quote(token)}", params)
        if answer.status == 401 and b"expired_token" in answer.body:
            token = await self._token(lambda: self.tokens.refresh(token))  # type: ignore[union-attr]
            answer = await self._post(f"{self.url_of(method)}?auth={quote(token)}", params)
        return answer

    async def _token(self, get: Callable[[], Awaitable[str]]) -> str:
        try:
            with deadline.paused():
                return await get()
        except TokenRefused as exc:
            raise UpstreamUnreachable(str(exc)) from None

    async def _post(self, url: str, params: dict[str, Any]) -> Answer:
        sent = 0
        body: Any
        if encoding.has_streamed(params):
            body = encoding.stream(params)
        else:
            body = encoding.encode(params)
            sent = len(body)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        return await self._send("POST", url, sent, data=body, headers=headers)

    async def _send(self, verb: str, url: str, sent: int, **kwargs: Any) -> Answer:
        started = time.perf_counter()
        try:
            # the portal's pace is not ours: upstream_timeout bounds it, not request_deadline
            with deadline.paused():
                async with self.session.request(verb, url, allow_redirects=False,
                                                **kwargs) as response:  # fmt: skip
                    body = await response.read()
        except TRANSPORT_ERRORS as exc:
            raise UpstreamUnreachable(_why(exc)) from None
        return Answer(
            status=response.status,
            body=body,
            content_type=response.headers.get("Content-Type", "application/json"),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            sent=sent,
        )

    async def get_json(self, url: str, query: dict[str, str]) -> tuple[int, Any]:
        """A GET answered in JSON (the application's token endpoint): status and body,
        None for a body that is not JSON."""
        answer = await self._send("GET", url, 0, params=query)
        try:
            return answer.status, json.loads(answer.body)
        except ValueError:
            return answer.status, None

    def owns(self, url: str) -> bool:
        """A link of the portal itself (an upload link it handed out): same origin."""
        return url.startswith(self.base.split("/rest/", 1)[0] + "/")

    async def upload(self, url: str, field: str, filename: str, path: Path) -> Answer:
        """POST a file to an upload link of the portal, as a multipart form, read from disk
        a piece at a time."""
        with path.open("rb") as fh:
            form = aiohttp.FormData()
            form.add_field(field, fh, filename=filename,
                           content_type="application/octet-stream")  # fmt: skip
            return await self._send("POST", url, path.stat().st_size, data=form)

    async def download(
        self, url: str, consume: Callable[[AsyncIterator[bytes]], Awaitable[T]]
    ) -> T:
        """Run ``consume`` on the body of a download link of the portal's."""
        try:
            with deadline.paused():
                async with self.session.get(url, allow_redirects=False) as response:
                    if response.status != 200:
                        raise UpstreamUnreachable(f"the portal answered HTTP {response.status}")
                    return await consume(response.content.iter_chunked(CHUNK))
        except TRANSPORT_ERRORS as exc:
            raise UpstreamUnreachable(_why(exc)) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# a GET to a URL with a query, answered in JSON: status and body (``Upstream.get_json``)
Fetch = Callable[[str, dict[str, str]], Awaitable[tuple[int, Any]]]


def _why(exc: BaseException) -> str:
    """The kind of failure, never the URL (it holds the webhook code)."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "the portal did not answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return "the portal cannot be reached"
    return f"the connection to the portal failed ({type(exc).__name__})"
