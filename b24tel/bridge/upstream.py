"""The portal upstream of a bridge: its incoming webhook (setting ``upstream_url``), reached
over TLS that is always verified (plain http only to a loopback address, for tests).

The webhook's code is a secret: it appears in no log line, journal entry or error text —
what is shown is ``shown`` (``https://<portal>/rest/1/***/``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from b24tel import deadline, masking
from b24tel.bridge import encoding
from b24tel.bridge.oauth import AppTokens, TokenRefused

TRANSPORT_ERRORS = (httpx.TransportError,)
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
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), verify=True, follow_redirects=False
        )
        self.tokens: AppTokens | None = None  # a local application's, else a webhook

    def url_of(self, method: str) -> str:
        return f"{self.base}{method}.json"

    def with_app(self, make: Callable[[httpx.AsyncClient], AppTokens]) -> None:
        """Calls as a local application of the portal (``b24tel.bridge.oauth``)."""
        self.tokens = make(self._client)

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
        started = time.perf_counter()
        try:
            # the portal's pace is not ours: upstream_timeout bounds it, not request_deadline
            with deadline.paused():
                response = await self._client.post(url, content=body, headers=headers)
        except TRANSPORT_ERRORS as exc:
            raise UpstreamUnreachable(_why(exc)) from None
        return _answer(response, started, sent)

    def owns(self, url: str) -> bool:
        """A link of the portal itself (an upload link it handed out): same origin."""
        return url.startswith(self.base.split("/rest/", 1)[0] + "/")

    async def upload(self, url: str, field: str, filename: str, path: Path) -> Answer:
        """POST a file to an upload link of the portal, as a multipart form, read from disk
        a piece at a time."""
        started = time.perf_counter()
        try:
            with deadline.paused(), path.open("rb") as fh:
                response = await self._client.post(url, files={field: (filename, fh)})
        except TRANSPORT_ERRORS as exc:
            raise UpstreamUnreachable(_why(exc)) from None
        return _answer(response, started, path.stat().st_size)

    async def download(
        self, url: str, consume: Callable[[AsyncIterator[bytes]], Awaitable[T]]
    ) -> T:
        """Run ``consume`` on the body of a download link of the portal's."""
        try:
            with deadline.paused():
                async with self._client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise UpstreamUnreachable(
                            f"the portal answered HTTP {response.status_code}"
                        )
                    return await consume(response.aiter_bytes())
        except TRANSPORT_ERRORS as exc:
            raise UpstreamUnreachable(_why(exc)) from None

    async def close(self) -> None:
        await self._client.aclose()


def _answer(response: httpx.Response, started: float, sent: int) -> Answer:
    return Answer(
        status=response.status_code,
        body=response.content,
        content_type=response.headers.get("content-type", "application/json"),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        sent=sent,
    )


def _why(exc: Exception) -> str:
    """The kind of failure, never the URL (it holds the webhook code)."""
    if isinstance(exc, httpx.TimeoutException):
        return "the portal did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "the portal cannot be reached"
    return f"the connection to the portal failed ({type(exc).__name__})"
