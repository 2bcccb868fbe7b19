"""Faults injected on purpose, as the protocol layer applies them (docs/integrators.md): the
rules and their bookkeeping live in ``b24tel.faults``; here a decision becomes what a client
sees — a Bitrix error, a load balancer's error page, a delay, a dropped connection, a
truncated or non-JSON answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from b24tel.errors import RETRY_AFTER_SECONDS, ApiError
from b24tel.identity import Caller

# where a rule can apply
KINDS = ("method", "batch", "upload", "download", "token", "event")
# effects that make sense for one command inside a batch (the rest are about HTTP)
IN_BATCH = ("error", "latency")


@dataclass(frozen=True)
class Decision:
    rule_id: int
    effect: (
        str  # error | proxy | latency | drop | truncate | non_json | event_delay | event_duplicate
    )
    code: str = ""
    status: int = 0
    description: str = ""
    latency_ms: float = 0.0

    @property
    def label(self) -> str:
        """How the journal marks it."""
        what = {"error": f"{self.code} ({self.status})", "proxy": f"proxy error {self.status}",
                "latency": f"+{self.latency_ms:.0f} ms"}.get(self.effect, self.effect)  # fmt: skip
        return f"rule {self.rule_id}: {what}"

    def error(self) -> ApiError:
        # a 503 says when to try again, as the server's own 503s do
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.status == 503 else None
        return ApiError(self.code, self.description, self.status, headers=headers)


class FaultSource(Protocol):
    """Decides whether a request meets a fault (``b24tel.faults``)."""

    async def decide(
        self, kind: str, method: str, caller: str, params: Mapping[str, Any]
    ) -> Decision | None: ...

    def invalidate(self) -> None:
        """Rules changed in this process: decide by the new ones at once."""


def who(caller: Caller | None, fallback: str = "") -> str:
    """What a rule's ``caller`` is compared with: ``webhook:ID`` or ``app:ID``, and
    ``user:ID``."""
    if caller is None:
        return fallback
    return f"{caller.limit_key} user:{caller.user_id}"


async def before(decision: Decision | None) -> Response | None:
    """Effects that come before the answer: an error (raised), an error page, a delay. The
    rest (``drop``, ``truncate``, ``non_json``) change the answer itself (``wrap``)."""
    if decision is None:
        return None
    if decision.effect == "error":
        raise decision.error()
    if decision.effect == "latency":
        await asyncio.sleep(decision.latency_ms / 1000)
    if decision.effect == "proxy":
        return proxy_page(decision.status)
    return None


def proxy_page(status: int) -> Response:
    """What a load balancer in front of the cloud answers when the portal does not."""
    title = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}.get(status, f"{status} Error")
    html = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"  # noqa: E501
    return Response(html, status_code=status, media_type="text/html")


def wrap(decision: Decision | None, request: Request, response: Response) -> Response:
    """The answer as the fault leaves it."""
    if decision is None or decision.effect not in ("drop", "truncate", "non_json"):
        return response
    if decision.effect == "non_json":
        return Response("<html><body>Service temporarily unavailable</body></html>",
                        status_code=200, media_type="text/html")  # fmt: skip
    return _Mangled(decision.effect, request, response)


class _Mangled(Response):
    """``drop``: the connection is closed without an answer (the request was read);
    ``truncate``: the headers promise the whole body, half of it comes, then the
    connection closes. Works on streamed answers (downloads) too."""

    def __init__(self, effect: str, request: Request, inner: Response) -> None:
        super().__init__(status_code=inner.status_code)
        self.effect, self.request, self.inner = effect, request, inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.effect == "drop" and _abort(self.request):
            return
        limit, sent, cut = 0, 0, False

        async def cutting(message: Message) -> None:
            nonlocal limit, sent, cut
            if cut:
                return
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", []):
                    if name == b"content-length" and self.effect == "truncate":
                        limit = int(value) // 2
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                room = max(limit - sent, 0)
                if len(body) >= room:
                    cut = True
                    if room:
                        await send({"type": "http.response.body", "body": body[:room],
                                    "more_body": True})  # fmt: skip
                    if not _abort(self.request):
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                sent += len(body)
            await send(message)

        await self.inner(scope, receive, cutting)


def _abort(request: Request) -> bool:
    """Close the client's connection at once. The Guard keeps the server's own ``receive``
    (uvicorn keeps its transport on the object behind it). False where there is no such
    transport (an in-process client)."""
    receive = request.scope.get("state", {}).get("raw_receive", request.receive)
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        return False
    transport.abort()
    return True
